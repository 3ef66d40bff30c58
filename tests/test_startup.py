"""``flows.runtime.startup``: a run without a cluster computes and rechunks with dask without
importing ``distributed``, leaves dask alone when ``distributed`` is already imported (a
caller's client), and imports late modules on a helper thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_no_distributed_import_without_a_cluster():
    out = _python(
        "import sys\n"
        "from flows.runtime.startup import local_dask\n"
        "import dask, dask.array as da\n"
        "with local_dask():\n"
        "    x = da.ones((60, 60), chunks=10).rechunk(30)\n"
        "    total = dask.compute(x.sum(), x.mean())[0]\n"
        "print(float(total), 'distributed' in sys.modules)\n")
    assert out == "3600.0 False"


def test_left_alone_when_distributed_is_imported():
    out = _python(
        "import distributed, dask\n"
        "from flows.runtime.startup import local_dask\n"
        "with local_dask():\n"
        "    print(dask.config.get('scheduler', None), dask.config.get('array.rechunk.method', None))\n")
    assert out == "None None"


def test_import_later():
    out = _python(
        "import sys\n"
        "from flows.runtime.startup import import_later\n"
        "t = import_later('colorsys', 'no_such_module_here', 'json')\n"
        "t.join(30)\n"
        "print('colorsys' in sys.modules, import_later('colorsys') is None)\n")
    assert out == "True True"
