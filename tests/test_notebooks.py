"""The result notebooks: jupytext pairs in sync, and every notebook executes without error on
demo output (two sites, three quarters, written with flows.site + flows.results; no Prefect).

Kernels are the venv's own: kernel ``python3`` from ipykernel in this Python (jupyter_client
starts a spec whose argv is ``python`` with ``sys.executable``), checked by a final cell.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from aoi import load_sites
from flows.results import store
from flows.results.maps import write_site_maps
from flows.site import load_range, site_tables
from flows.sources.demo import DemoSource

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("site_overview", "compare_sites", "data_quality")
SITE_IDS = ("selangor-kuala-selangor", "andalusia-cabo-de-gata-genoveses")
START, END = dt.date(2024, 7, 1), dt.date(2025, 3, 31)  # the planted mangrove clearing: Oct 2024
RUN_ID = "notebook-test"


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("notebook-results")
    source = DemoSource(seed=0)
    sites = [s for s in load_sites(None) if s.id in SITE_IDS]
    assert len(sites) == len(SITE_IDS)
    for site in sites:
        first, last = load_range(site, START, END)
        tables = site_tables(site, source, source.search(site, first, last), start=START,
                             end=END, run_id=RUN_ID, products=True)
        store.write_rows(out, "observations", tables.observations)
        store.write_rows(out, "change", tables.change)
        write_site_maps(out, site, tables.maps)
    return out


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def _cells(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), list(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_notebook_is_a_synced_jupytext_pair():
    py = {p.stem for p in NOTEBOOKS.glob("*.py")}
    ipynb = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert py == ipynb == set(NAMES)
    for name in NAMES:
        text = jupytext.read(NOTEBOOKS / f"{name}.py")
        stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(stored)
        assert _cells(text) == _cells(stored), f"{name}: .py and .ipynb differ; run " \
            f"`jupytext --sync notebooks/{name}.py`"
        assert stored.metadata["jupytext"]["formats"] == "ipynb,py:percent"
        assert stored.metadata["kernelspec"]["name"] == "python3"
        assert [c for c in stored.cells if "parameters" in c.metadata.get("tags", [])]
        # committed clean: no outputs, so diffs stay readable and no stale figures ship
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in stored.cells if c.cell_type == "code"), f"{name}.ipynb has outputs"


def _execute(name: str, workdir: Path, env: dict[str, str], monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def _outputs(nb, kind: str) -> list:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "image" and "image/png" in out.get("data", {}):
                found.append(out["data"]["image/png"])
            elif kind == "text":
                found.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    return found


@pytest.mark.parametrize(("name", "site", "figures"), [
    ("site_overview", None, 5),  # extent, gain/loss, scenes, the latest maps, change maps
    ("site_overview", "andalusia-cabo-de-gata-genoveses", 5),
    ("compare_sites", None, 3),
    ("data_quality", None, 3),
])
def test_notebook_executes_on_demo_results(name, site, figures, demo_results, tmp_path,
                                           monkeypatch):
    before = _snapshot(demo_results)
    env = {"BLUECARBON_RESULTS": str(demo_results)}
    if site:
        env["BLUECARBON_SITE"] = site
    nb = _execute(name, tmp_path, env, monkeypatch)
    text = "\n".join(_outputs(nb, "text"))
    assert text.strip().splitlines()[-1] == sys.executable  # the venv's kernel
    assert len(_outputs(nb, "image")) >= figures, f"{name}: fewer figures than expected"
    # site_overview shows one site (default: the first in the results), the others all
    shown = [site or min(SITE_IDS)] if name == "site_overview" else SITE_IDS
    for sid in shown:
        assert sid in text
    assert "Traceback" not in text
    assert "no maps of" not in text and "not in the sites file" not in text
    assert _snapshot(demo_results) == before, f"{name} wrote into the results folder"
    assert list(tmp_path.iterdir()) == [], f"{name} wrote into its working directory"


def test_a_relative_results_folder_is_taken_from_where_jupyter_was_started(
        demo_results, tmp_path, monkeypatch):
    """`BLUECARBON_RESULTS=results jupyter lab`, typed in the folder holding `results`: the
    kernel runs in notebooks/ (here: an empty folder), and the shell's $PWD says where the
    command was typed (issue 21: it used to look for notebooks/results)."""
    nb = _execute("data_quality", tmp_path, {"BLUECARBON_RESULTS": demo_results.name,
                                             "PWD": str(demo_results.parent)}, monkeypatch)
    text = "\n".join(_outputs(nb, "text"))
    assert all(sid in text for sid in SITE_IDS)
    assert list(tmp_path.iterdir()) == []


def test_notebook_names_a_missing_results_folder(tmp_path, monkeypatch):
    missing = tmp_path / "no-results-here"
    with pytest.raises(CellExecutionError) as err:
        _execute("data_quality", tmp_path, {"BLUECARBON_RESULTS": str(missing)}, monkeypatch)
    assert "not found: set RESULTS" in str(err.value)
    assert not missing.exists()


def test_kernel_is_this_python():
    """The kernelspec `python3` resolves to this interpreter (not a system Python)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    assert argv[0] in ("python", "python3", sys.executable) or \
        os.path.realpath(argv[0]) == os.path.realpath(sys.executable), argv
