"""The nightly monitoring run: sites -> search -> load -> indices -> change -> Parquet store.

One step per I/O stage, with bounded retries where the network or the disk is involved (only
of errors a retry can fix: :func:`retryable_error`); steps pass site ids, scene references and
small frames, never cubes. A site that fails does not stop the others: the run finishes every
site it can, writes their rows and its run record, and then fails naming the sites that did
not. A source that cannot be reached at all (:class:`~flows.sources.SourceUnreachable`) stops
the run instead, said once: every other site would fail the same way. A stored file of a site
that cannot be read is set aside and the site recomputed, once (:func:`plan_site_task`).

:func:`run_sites` is the run, written once and Prefect-free: ``bluecarbon run`` calls it
directly (:func:`run_nightly`: no Prefect imported, no API server, each step's retries done
here by :func:`retrying`), and the Prefect flow :func:`flows.monitor.monitor_sites` (``serve``,
deployments, a configured ``PREFECT_API_URL``) calls it with the same steps as Prefect tasks,
whose retries Prefect does from the same :class:`Retry` settings.

The steps and their retries are in :mod:`flows.nightly.steps`, how a step is tried (and how a
run fails) in :mod:`flows.nightly.retry`, the run loop in :mod:`flows.nightly.run`.
"""

from flows.nightly.retry import Retry, SitesFailed, Step, retryable_error, retrying
from flows.nightly.run import SITE_WORKERS, run_nightly, run_sites
from flows.nightly.run import _drop_maps as _drop_maps  # tests/test_walk_stream.py
from flows.nightly.steps import STEPS

__all__ = ["SITE_WORKERS", "STEPS", "Retry", "SitesFailed", "Step", "retryable_error",
           "retrying", "run_nightly", "run_sites"]
