# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bluecarbon run

# Two pytest-xdist workers (the 2 cores of the CI machine), whole files each, in the order of
# tests/conftest.py (longest first). `make test TEST_WORKERS=` runs the suite in one process.
TEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(PY) -m pytest $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check flows indices aoi tests

clean:
	rm -rf $(VENV) results .pytest_cache
