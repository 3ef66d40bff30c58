"""Prints the README's tables from guards.jsonl (helper mang26)."""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
recs = [json.loads(line) for line in (HERE / "guards.jsonl").open()]
GAIN = [24, 315, 319, 701, 715, 27, 712, 716, 1207, 26, 29, 305, 306, 714, 907, 1200, 1201,
        1202, 1712, 1713]
# guard: (key, cut, axis allowed when value >= cut (True) or <= cut (False))
GUARDS = {"1 admitted MVI med >= 4.5": ("g1_admitted_mvi_median", 4.5, True),
          "2 D2 <= 19.0 (a cap below both coasts)": ("g2_d2", 19.0, False),
          "3 shore NDVI med >= 0.7": ("g3_shore_ndvi_median", 0.7, True),
          "4a shore MVI med >= 4.5": ("g4a_shore_mvi_median", 4.5, True),
          "4b admitted NDVI med >= 0.7": ("g4b_admitted_ndvi_median", 0.7, True),
          "4d shore share NDVI>=0.7 >= 0.5": ("g4d_shore_ndvi_ge07_share", 0.5, True)}


def ok(r, key, cut, ge):
    v = r[key]
    return (v >= cut) if ge else (v <= cut)


def main(out=sys.stdout):
    by = {r["case"]: r for r in recs}
    cases = ["wales", "ireland"] + GAIN
    keys = list(GUARDS)
    print("| case | axis_used (v8) | " + " | ".join(keys) + " |", file=out)
    print("|---" * (len(keys) + 2) + "|", file=out)
    for c in cases:
        r = by[c]
        cells = []
        for k in keys:
            key, cut, ge = GUARDS[k]
            allowed = ok(r, key, cut, ge)
            want = not isinstance(c, str)
            cells.append(f"{r[key]:.3f} {'on' if allowed else 'off'}"
                         f"{'' if allowed == want else ' **X**'}")
        print(f"| {c} | {r['axis_used']:.0f} | " + " | ".join(cells) + " |", file=out)
    used = [r for r in recs if r["axis_used"] == 1]
    gain = [by[c] for c in GAIN]
    print(f"\n| guard | gain seeds kept on (of 20) | all axis seeds kept on (of {len(used)}) | "
          "gain-seed range | all-seed range | Wales | Ireland | margin to cut: generator "
          "(worst gain seed) / real (worst coast) |", file=out)
    print("|---" * 8 + "|", file=out)
    for k, (key, cut, ge) in GUARDS.items():
        g = [r[key] for r in gain]
        a = [r[key] for r in used]
        w, i = by["wales"][key], by["ireland"][key]
        mg = (min(g) - cut) if ge else (cut - max(g))
        mr = (cut - max(w, i)) if ge else (min(w, i) - cut)
        print(f"| {k} | {sum(ok(r, key, cut, ge) for r in gain)} | "
              f"{sum(ok(r, key, cut, ge) for r in used)} | {min(g):.3f}-{max(g):.3f} | "
              f"{min(a):.3f}-{max(a):.3f} | {w:.3f} | {i:.3f} | {mg:+.3f} / {mr:+.3f} |",
              file=out)


if __name__ == "__main__":
    main()
