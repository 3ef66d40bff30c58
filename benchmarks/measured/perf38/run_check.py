"""``bluecarbon run ...`` (flows.cli.main), then say on stderr whether ``scipy.stats`` (and
the modules it pulls: optimize, spatial, integrate, interpolate) was imported by the run."""

import sys

from flows.cli import main

sys.argv[0] = "bluecarbon"
try:
    rc = main()
finally:
    names = ("scipy.stats", "scipy.optimize", "scipy.spatial", "scipy.integrate",
             "scipy.interpolate")
    print("scipy.stats check: " + ", ".join(f"{n} {n in sys.modules}" for n in names),
          file=sys.stderr)
sys.exit(rc)
