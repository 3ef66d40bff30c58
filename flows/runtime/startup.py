"""Start-up work of a run overlapped with its computation (issue 22: a run that imports only
what it uses, and overlaps start-up with the first reads).

* A run imports only what it uses: the carbon step's ``scipy.stats`` (0.5-0.8 s of CPU and
  ~30 MB, once imported on a helper thread while the maps were encoded) is no longer needed
  (:mod:`indices.sobol`, perf38; ``tests/test_startup.py`` checks a run never loads it).
* :func:`local_dask` is dask's configuration for a run without a dask.distributed cluster:
  its threaded scheduler and rechunks by tasks, what dask chooses without a client, but
  without importing ``distributed`` to find out that there is none (``dask.compute``'s
  ``get_scheduler`` and ``rechunk``'s ``_choose_rechunk_method`` do: 0.3-0.5 s of CPU and
  ~40 MB a run); and it caps glibc's heaps (:func:`flows.runtime.memory.limit_arenas`: each
  thread's own heap kept blocks that another's could not reuse, ~0.12 GiB of a 2000² site's
  floor).

Nothing here changes a value.
"""

from __future__ import annotations

import sys

__all__ = ["local_dask"]


def local_dask():
    """A context in which dask computes on its threaded scheduler and rechunks by tasks (no
    cluster: what dask would choose), set at once and restored on leaving. Nothing is set
    when ``distributed`` is already imported: a client of the caller's may then be active,
    and dask finds it as before."""
    import contextlib

    if "distributed" in sys.modules:
        return contextlib.nullcontext()
    import dask
    import dask.threaded
    from dask.system import CPU_COUNT

    from flows.runtime.memory import limit_arenas

    limit_arenas()  # before dask's pool starts its threads
    # the function, not its name "threads": a name makes dask import distributed to look for
    # a client; dask arrays' default scheduler is this same function. One worker a core in
    # every thread that computes: dask gives its main thread's pool CPU_COUNT workers, but a
    # compute from another thread (a site's thread, the one-pass walk's helper) a pool of its
    # own with ThreadPoolExecutor's default, cores + 4 (6 on 2 cores: tasks in flight,
    # their chunks held, for no more cores)
    return dask.config.set({"scheduler": dask.threaded.get, "array.rechunk.method": "tasks",
                            "num_workers": CPU_COUNT})
