"""``bluecarbon notebooks``: JupyterLab on the result notebooks, pointed at a results folder.

    bluecarbon notebooks [--out DIR] [--sites F] [--port N] [--no-browser]

Starts this Python's JupyterLab (``python -m jupyterlab``, from the ``notebooks`` extra:
``pip install -e ".[notebooks]"``) in the repository's ``notebooks/`` folder, with
``BLUECARBON_RESULTS`` set to the results folder as an absolute path (a relative ``--out`` is
taken from where the command is typed, not from ``notebooks/``, where the kernels run) and
``BLUECARBON_SITES`` to ``--sites`` when given (else the notebooks read the sites the runs
read, from their run records). It returns JupyterLab's exit code; Ctrl-C is JupyterLab's to
handle (it asks before shutting down), this process waits for it.

Bad input (no results there, no notebooks beside the package, JupyterLab not installed) is a
:class:`NotebooksError` with one line saying what to do, before anything starts.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["NOTEBOOKS_DIR", "NotebooksError", "jupyter_command", "launch"]

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
"""The result notebooks: in the repository, beside the packages (an editable install or a
clone on ``PYTHONPATH``; a wheel does not ship them)."""


class NotebooksError(RuntimeError):
    """The notebooks cannot be opened; the message is one line saying what to do."""


def jupyter_command(out: Path, sites: Path | None = None, *, port: int | None = None,
                    browser: bool = True) -> tuple[list[str], dict[str, str]]:
    """``(argv, env)`` of the JupyterLab to start for the results in ``out``."""
    results = Path(out).expanduser().resolve()
    if not (results / "change").is_dir():
        raise NotebooksError(f"{results} holds no results (no change table): run "
                             f"`bluecarbon run --out {out}` first, or pass --out")
    if not (NOTEBOOKS_DIR / "site_overview.ipynb").is_file():
        raise NotebooksError(f"the notebooks are not beside this installation ({NOTEBOOKS_DIR}):"
                             " they ship with the repository; install from a clone with "
                             "pip install -e '.[notebooks]'")
    if importlib.util.find_spec("jupyterlab") is None:
        raise NotebooksError("JupyterLab is not installed in this Python: from the repository "
                             "root, pip install -e '.[notebooks]'")
    env = dict(os.environ, BLUECARBON_RESULTS=str(results))
    if sites is not None:
        path = Path(sites).expanduser()
        if not path.exists():
            raise NotebooksError(f"sites {sites} does not exist")
        env["BLUECARBON_SITES"] = str(path.resolve())
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={NOTEBOOKS_DIR}"]
    if port is not None:
        argv.append(f"--ServerApp.port={port}")
    if not browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers, CI: JupyterLab exits as
        argv.append("--allow-root")                    # root without it ("not recommended")
    return argv, env


def launch(argv: list[str], env: dict[str, str]) -> int:
    """Run JupyterLab in the notebooks folder until it exits; its exit code. A SIGTERM to
    this process is passed on (a service manager stopping it leaves no server behind)."""
    process = subprocess.Popen(argv, env=env, cwd=NOTEBOOKS_DIR)
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # the terminal sent it to JupyterLab too: its call
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
