"""The strips walk's peak RSS growth of tests/test_memory.py (1026² x 11 months, products),
in trees given on the command line, runs interleaved (perf34, issue 22).

    python strips_growth.py --root /work/wt/cache-perf34 --rounds 3 TREE [TREE ...]

Runs each tree's own ``CHILD_WALK`` (taken from its tests/test_memory.py) in a fresh
interpreter (main's venv), the trees rotated within each round; prints one JSON line a run
and the medians. ``--walk`` picks another walk, ``--traced`` the child's traced form.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
from pathlib import Path


def child_of(tree: Path) -> str:
    mod = ast.parse((tree / "tests" / "test_memory.py").read_text())
    for node in mod.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CHILD_WALK":
            return ast.literal_eval(node.value)
    raise LookupError(tree)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("trees", nargs="+", type=Path)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--walk", default="strips")
    p.add_argument("--scenes", type=int, default=12)
    p.add_argument("--traced", action="store_true")
    args = p.parse_args()
    import synthetic  # noqa: F401  (benchmarks/ on the path: the COGs, written once)

    for size, n in ((1026, 2), (1026, 24)):
        synthetic.write_tile(str(args.root), size, n)
    got: dict[str, list] = {str(t): [] for t in args.trees}
    for r in range(args.rounds):
        order = args.trees[r % len(args.trees):] + args.trees[:r % len(args.trees)]
        for tree in order:
            proc = subprocess.run(
                [sys.executable, "-c", child_of(tree), str(tree), str(args.root), "1026",
                 str(args.scenes), args.walk, "products"] + (["traced"] if args.traced else []),
                capture_output=True, text=True, cwd=tree, timeout=900)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(1)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res.update(tree=str(tree), round=r, growth_mib=round(res["growth"] / 2**20, 1),
                       estimate_mib=round(res["estimate"] / 2**20, 1))
            got[str(tree)].append(res["growth_mib"])
            print(json.dumps(res), flush=True)
    for tree, g in got.items():
        print(f"{tree}: median +{statistics.median(g):.0f} MiB ({min(g):.0f}-{max(g):.0f}), "
              f"runs {g}")


if __name__ == "__main__":
    main()
