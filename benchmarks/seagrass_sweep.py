"""Seagrass sweep: one checkout's rows against the independent generator's truth.

    PYTHONPATH=<tree> python benchmarks/seagrass_sweep.py <tree> <label> <first_seed> <n> \\
        [<first> <n> ...] [--cache DIR] [--out DIR]

Scenes (300 px, 18 months, as tests/test_independent_scenes.py) are generated once and cached
as pickled Scenarios under ``--cache`` (outside the repository); figures as in that test
(``_figures``, ``_extent_ok`` 15 %, ``_change_ok``). One line a seed: ``<seed>: ext <extent
ok> chg <gain&loss ok> base <map>/<truth> ha gain <map>/<truth> loss <map>/<truth> cov
<months covered> af <assessable fraction map>/<truth>``; a JSON record a set under ``--out``.
Compare records with benchmarks/seagrass_compare.py. Sweeps, not tests: the CI budget."""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("tree", type=Path)
parser.add_argument("label")
parser.add_argument("seeds", type=int, nargs="+", help="pairs: first seed, number of seeds")
parser.add_argument("--cache", type=Path, default=Path("/work/wt/sg22-cache"))
parser.add_argument("--out", type=Path, default=Path("/work/wt/sg22-sweep"))
args = parser.parse_args()
sys.path.insert(0, str(args.tree / "tests"))
import indices  # noqa: E402

assert str(indices.__file__).startswith(str(args.tree.resolve())), indices.__file__
from scenarios import make_scenario  # noqa: E402
from scenarios.run_scenario import site_change_rows  # noqa: E402
from test_independent_scenes import _change_ok, _extent_ok, _figures  # noqa: E402

args.out.mkdir(parents=True, exist_ok=True)
for first, n in zip(args.seeds[::2], args.seeds[1::2], strict=True):
    rows = []
    for seed in range(first, first + n):
        t0 = time.time()
        root = args.cache / f"seagrass-{seed}"
        pkl = root / "sc.pkl"
        if pkl.exists():
            sc = pickle.loads(pkl.read_bytes())
        else:
            sc = make_scenario(seed, kind="seagrass", size=300, n_months=18, out_dir=root)
            pkl.write_bytes(pickle.dumps(sc))
        change = site_change_rows(sc)
        f = _figures(sc, change)
        t_af = sc.truth.set_index("period")["assessable_fraction"]
        af = (float(change["assessable_fraction"].iloc[-1]), float(t_af.iloc[-1]))
        row = {"seed": seed, "extent_ok": _extent_ok(f, 0.15), "change_ok": _change_ok(f),
               "covered": f["covered"].tolist(), "assessable_fraction": af,
               "kd490": float(sc.params["kd490"]),
               **{k: [float(v) for v in f[k]] for k in ("baseline", "final", "gain", "loss")}}
        rows.append(row)
        print(f"{args.label} {seed}: ext {row['extent_ok']} chg {row['change_ok']} "
              f"base {row['baseline'][0]:.1f}/{row['baseline'][1]:.1f} "
              f"gain {row['gain'][0]:.1f}/{row['gain'][1]:.1f} "
              f"loss {row['loss'][0]:.1f}/{row['loss'][1]:.1f} "
              f"cov {np.mean(row['covered']):.0%} af {af[0]:.2f}/{af[1]:.2f} "
              f"kd {row['kd490']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    (args.out / f"{args.label}-{first}.json").write_text(json.dumps(rows))
    ext = np.mean([r["extent_ok"] for r in rows])
    chg = np.mean([r["change_ok"] for r in rows])
    cov = np.mean(np.concatenate([r["covered"] for r in rows]))
    print(f"SUMMARY {args.label} {first}-{first + n - 1}: extent {ext:.0%} change {chg:.0%} "
          f"interval {cov:.1%}", flush=True)
