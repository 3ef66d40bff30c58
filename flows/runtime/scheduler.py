"""Where dask computes: in this process (its threads, or synchronously) or elsewhere.

Only a task run in this process can write into this process's arrays (``da.store`` into
numpy: :mod:`flows.site.walks`, :mod:`flows.site.onepass`) or hand its result to the next
task by reference (the fetch status of :mod:`flows.sources._reader`). On a dask.distributed
cluster (a default client) or with the processes scheduler each task runs elsewhere, on an
unpickled copy of its inputs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["computes_here"]


def computes_here(collections: Sequence[Any] | None = None) -> bool:
    """Whether dask, as configured now, computes ``collections`` in this process: the
    scheduler that ``dask.compute`` would choose for them (``dask.base.get_scheduler``: the
    configured one, else a default dask.distributed client, else the collections' own
    default) is the threaded or the synchronous one. ``None``: dask arrays not built yet
    (their default is the threaded scheduler); an empty sequence has no scheduler (False).

    Without ``distributed`` imported no client exists: with no scheduler configured either,
    the answer is the collections' default, found without importing ``distributed`` (which
    ``get_scheduler`` imports to look for a client: 0.3-0.5 s of CPU and ~40 MB, see
    :func:`flows.runtime.startup.local_dask`)."""
    import dask
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    if "distributed" not in sys.modules and not dask.config.get("scheduler", None):
        chosen = _default(collections)
    else:
        chosen = get_scheduler(collections=collections)
        if chosen is None and collections is None:
            chosen = dask.threaded.get  # dask arrays' default
    return chosen in (dask.threaded.get, dask.local.get_sync)


def _default(collections: Sequence[Any] | None) -> Any:
    """The collections' own default scheduler (``get_scheduler``'s last rule; an error if
    they differ, as there); the threaded one for ``None`` (dask arrays'), None for none."""
    import dask.threaded

    if collections is None:
        return dask.threaded.get
    defaults = [c.__dask_scheduler__ for c in collections if c is not None]
    if not defaults:
        return None
    if not all(d == defaults[0] for d in defaults):
        raise ValueError("collections with differing default schedulers: name one in "
                         "dask.config or in compute")
    return defaults[0]
