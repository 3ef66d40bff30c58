"""Markdown tables of gain_diagnosis.jsonl (benchmarks/mangrove_gain_diagnosis.py):
    python benchmarks/measured/mang27/table.py benchmarks/measured/mang27/gain_diagnosis.jsonl"""

import json
import sys

REASONS = ("mapped", "context", "unseen", "ndvi", "mvi", "pending", "reverted", "mmu")


def main(path: str) -> None:
    recs = [json.loads(line) for line in open(path)]
    print("| seed | truth gain ha | mapped (v8) | level 0 / 1 / 2 / 3 | "
          + " | ".join(REASONS[1:]) + " | post-t50 px-months: no clear view / under tide "
          "(NDWI>0) / seen | months past t50 (median) | detection lag months (10/50/90) |")
    print("|" + "---|" * (6 + len(REASONS)))
    tot = dict.fromkeys(REASONS, 0)
    looks = [0, 0, 0, 0]
    for r in recs:
        t = r["truth_gain_px"]
        lv = r["level"]
        lk = r["looks_after_t50"]
        for k in REASONS:
            tot[k] += r["reason"][k]
        looks = [a + b for a, b in zip(looks, (lk["all"], lk["no_clear_view"],
                                                lk["under_tide_ndwi"], lk["seen"]), strict=True)]
        print(f"| {r['seed']} | {t / 100:.2f} | {r['mapped_in_truth_px'] / 100:.2f} | "
              f"{lv['0']} / {lv['1']} / {lv['2']} / {lv['3']} | "
              + " | ".join(f"{100 * r['reason'][k] / t:.0f} %" for k in REASONS[1:])
              + f" | {100 * lk['no_clear_view'] / lk['all']:.0f} / "
              f"{100 * lk['under_tide_ndwi'] / lk['all']:.0f} / {100 * lk['seen'] / lk['all']:.0f} %"
              f" | {r['months_past_t50_q'][1]} | {r['lag_months_q']} |")
    n = sum(tot.values())
    print(f"| all {len(recs)} | {n / 100:.1f} | {tot['mapped'] / 100:.1f} | | "
          + " | ".join(f"{100 * tot[k] / n:.0f} %" for k in REASONS[1:])
          + f" | {100 * looks[1] / looks[0]:.0f} / {100 * looks[2] / looks[0]:.0f} / "
          f"{100 * looks[3] / looks[0]:.0f} % | | |")
    print()
    print("Dry looks (NDWI <= 0, MNDWI <= 0) of the truth's gain pixels by the generator's "
          "cover at the look: count, NDVI 10/50/90 %, MVI 10/50/90 %")
    print()
    print("| seed | " + " | ".join(recs[0]["dry_looks_by_cover"]) + " |")
    print("|---|" + "---|" * len(recs[0]["dry_looks_by_cover"]))
    for r in recs:
        print(f"| {r['seed']} | " + " | ".join(
            f"{v[0]}: {v[1][1] if v[1] else '-'} ({v[1][0] if v[1] else '-'}-"
            f"{v[1][2] if v[1] else '-'})" for v in r["dry_looks_by_cover"].values()) + " |")
    print()
    names = list(recs[0]["variants"])
    print("Other walks of the same scores (replayed): gain in the truth / outside it, ha; "
          "seeds whose gain is within 20 % or 3 ha")
    print()
    print("| variant | in truth ha | outside ha | gain ok | failing |")
    print("|---|---|---|---|---|")
    for v in names:
        ok, bad, tp, fp = 0, [], 0, 0
        for r in recs:
            t = r["truth_gain_px"] / 100
            g = sum(r["variants"][v]) / 100
            tp += r["variants"][v][0] / 100
            fp += r["variants"][v][1] / 100
            if abs(g - t) <= max(0.2 * t, 3):
                ok += 1
            else:
                bad.append(r["seed"])
        print(f"| {v} | {tp:.1f} | {fp:.2f} | {ok}/{len(recs)} | {bad} |")


if __name__ == "__main__":
    main(sys.argv[1])
