"""Sweep a tree over seeds that another sweep is generating (helper mang34): each seed is
recorded (``scenario_sweep.record``) once the leading sweep's record names it, so its
pickled scene is complete and not generated twice at once.

    PYTHONPATH=<tree>:<tree>/tests python follow.py LEAD.jsonl OUT.jsonl CACHE SEEDS
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    lead, out, cache, spec = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    from scenario_sweep import parse_seeds, record

    done = {json.loads(x)["seed"] for x in out.read_text().splitlines()} if out.exists() else set()
    for seed in parse_seeds(spec):
        if seed in done:
            continue
        while not (lead.exists() and any(json.loads(x)["seed"] == seed
                                         for x in lead.read_text().splitlines())):
            time.sleep(5)
        rec = record(seed, "mangrove", 300, 18, cache)
        done.add(seed)
        with open(out, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
