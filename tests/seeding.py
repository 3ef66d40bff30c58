"""The random seeds of a test run: drawn once, shared by every pytest-xdist worker, replayable.

Some tests take, besides their fixed seeds, one seed drawn at random in each run (so CI keeps
trying cases nobody chose). Drawn independently in each xdist worker they would give each worker
different test ids, and xdist refuses to run. So one 32-bit run seed is drawn by the first
process to import this module and kept in the environment (``BLUECARBON_TEST_SEED``), which the
workers inherit; each test's seed is derived from it and the test's own name. The run seed is
printed in pytest's header: ``BLUECARBON_TEST_SEED=<n> make test`` replays a run's draws.
"""

from __future__ import annotations

import os
import random
import zlib

import numpy as np

ENV = "BLUECARBON_TEST_SEED"


def run_seed() -> int:
    """This run's seed: ``$BLUECARBON_TEST_SEED``, drawn (and set) on first use."""
    if ENV not in os.environ:
        os.environ[ENV] = str(random.SystemRandom().randrange(2**32))
    return int(os.environ[ENV])


def drawn(low: int, high: int, name: str) -> int:
    """An integer in ``[low, high)`` for the test ``name``, fixed by this run's seed."""
    rng = np.random.default_rng([run_seed(), zlib.crc32(name.encode())])
    return int(rng.integers(low, high))
