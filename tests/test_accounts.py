"""Extent accounts (SEEA EA layout), fragmentation against hand counts and an independent
brute force, the GBF A.2 helpers and the standards map."""

from __future__ import annotations

import datetime as dt
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indices.accounts import (
    ACCOUNT_COLUMNS,
    baseline_class_map,
    extent_account,
    extent_account_from_maps,
    extent_trend,
    fragmentation,
    gbf_a2,
)
from indices.standards import STANDARD_EVIDENCE, evidence_for

# --- fragmentation --------------------------------------------------------------------------


def test_fragmentation_hand_counts() -> None:
    one = np.zeros((3, 3), np.uint8)
    one[1, 1] = 1
    f = fragmentation(one)
    # 1 patch of 0.01 ha; 4 sides of 10 m over a 0.09 ha site
    assert (f.n_patches, f.mean_patch_ha) == (1, pytest.approx(0.01))
    assert f.edge_density_m_per_ha == pytest.approx(40 / 0.09)
    diagonal = np.zeros((4, 4), np.uint8)
    diagonal[1, 1] = diagonal[2, 2] = 1
    f = fragmentation(diagonal)
    assert f.n_patches == 1                              # corners touch: one patch
    assert f.mean_patch_ha == pytest.approx(0.02)
    assert f.edge_density_m_per_ha == pytest.approx(80 / 0.16)
    apart = np.zeros((4, 4), np.uint8)
    apart[0, 0] = apart[0, 3] = apart[3, 0] = 1
    f = fragmentation(apart, pixel_size_m=30.0)
    # 3 patches of 0.09 ha; 2 inside-site sides each at the map corners, 30 m, over 1.44 ha
    assert (f.n_patches, f.mean_patch_ha) == (3, pytest.approx(0.09))
    assert f.edge_density_m_per_ha == pytest.approx(6 * 30 / 1.44)
    # no data: sides against 255 are the site's edge, not the habitat's
    nodata = np.array([[1, 255], [0, 0]], np.uint8)
    f = fragmentation(nodata)
    assert f.edge_density_m_per_ha == pytest.approx(10 / 0.03)
    empty = fragmentation(np.zeros((2, 2), bool))
    assert empty.n_patches == 0 and np.isnan(empty.mean_patch_ha)
    assert empty.edge_density_m_per_ha == 0


def brute_force(m: np.ndarray) -> tuple[int, int]:
    """Patches (8-connected flood fill) and habitat/non-habitat sides, written without scipy."""
    h, w = m.shape
    seen = np.zeros_like(m, bool)
    patches = 0
    for i in range(h):
        for j in range(w):
            if m[i, j] == 1 and not seen[i, j]:
                patches += 1
                stack = [(i, j)]
                seen[i, j] = True
                while stack:
                    a, b = stack.pop()
                    for da in (-1, 0, 1):
                        for db in (-1, 0, 1):
                            y, x = a + da, b + db
                            if 0 <= y < h and 0 <= x < w and m[y, x] == 1 and not seen[y, x]:
                                seen[y, x] = True
                                stack.append((y, x))
    sides = 0
    for i in range(h):
        for j in range(w):
            for y, x in ((i + 1, j), (i, j + 1)):
                if y < h and x < w and {m[i, j], m[y, x]} == {0, 1}:
                    sides += 1
    return patches, sides


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fragmentation_matches_brute_force(seed: int) -> None:
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    m = rng.choice(np.array([0, 1, 255], np.uint8), size=(25, 31), p=[0.5, 0.4, 0.1])
    patches, sides = brute_force(m)
    f = fragmentation(m, pixel_size_m=10.0)
    site_ha = np.count_nonzero(m != 255) * 0.01
    assert f.n_patches == patches
    assert f.edge_density_m_per_ha == pytest.approx(sides * 10 / site_ha)
    assert f.mean_patch_ha == pytest.approx(np.count_nonzero(m == 1) * 0.01 / patches)


# --- accounts from the change table ----------------------------------------------------------


def change_rows(year_end: dict[int, tuple[float, float]], baseline: float = 100.0
                ) -> pd.DataFrame:
    """Monthly rows whose year-end gain/loss are ``year_end``; mid-year months wander."""
    out = []
    for year, (g, lo) in year_end.items():
        for month in range(1, 13):
            wobble = 0.0 if month == 12 else 0.3 * np.sin(month)   # ignored: not a year end
            out.append({"site_id": "s", "habitat": "mangrove", "period": dt.date(year, month, 1),
                        "baseline_extent_ha": baseline, "gain_ha": max(g + wobble, 0),
                        "loss_ha": lo})
    return pd.DataFrame(out)


def test_account_from_rows_by_hand() -> None:
    # 2024: 5 ha gained, 2 lost; 2025: 2 of the gained lost again, 1 of the lost came back
    acc = extent_account(change_rows({2023: (0, 0), 2024: (5, 2), 2025: (3, 1)}))
    assert list(acc.columns) == list(ACCOUNT_COLUMNS)
    got = acc[["year", "opening_ha", "additions_ha", "reductions_ha", "closing_ha"]]
    assert got.to_numpy().tolist() == [[2023, 100, 0, 0, 100], [2024, 100, 5, 2, 103],
                                       [2025, 103, 1, 2, 102]]
    assert (acc["net_change_ha"] == acc["additions_ha"] - acc["reductions_ha"]).all()
    assert acc["n_patches"].isna().all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 50)), min_size=1, max_size=6),
       st.floats(0, 500))
def test_account_balances_and_links_exactly(year_end, baseline) -> None:
    acc = extent_account(change_rows(dict(zip(range(2023, 2023 + len(year_end)), year_end,
                                              strict=True)), baseline))
    assert (acc["closing_ha"] == acc["opening_ha"] + acc["additions_ha"]
            - acc["reductions_ha"]).all()
    assert (acc["opening_ha"].iloc[1:].to_numpy() == acc["closing_ha"].iloc[:-1].to_numpy()).all()
    g, lo = year_end[-1]
    assert acc["closing_ha"].iloc[-1] == pytest.approx(baseline + g - lo, abs=1e-9)
    assert (acc["additions_ha"] >= 0).all() and (acc["reductions_ha"] >= 0).all()


# --- accounts from the class maps -----------------------------------------------------------


def test_account_from_maps_counts_gross_transitions() -> None:
    base = np.zeros((6, 6), np.uint8)
    base[:3, :] = 1                                   # 18 px baseline habitat
    base[5, 5] = 255                                  # never seen yet
    y1 = base.copy()
    y1[3, 0] = y1[3, 1] = 1                           # two pixels gained
    y2 = y1.copy()
    y2[3, 0] = 0                                      # one of them lost again ...
    y2[3, 4] = 1                                      # ... another gained: net 0
    y2[5, 5] = 1                                      # first seen, habitat
    acc = extent_account_from_maps("s", "mangrove", base, {2024: y1, 2025: y2})
    assert list(acc.columns) == list(ACCOUNT_COLUMNS)
    px = 0.01
    assert acc["opening_ha"].tolist() == [pytest.approx(18 * px), pytest.approx(20 * px)]
    assert acc["additions_ha"].tolist() == [pytest.approx(2 * px), pytest.approx(2 * px)]
    assert acc["reductions_ha"].tolist() == [0, pytest.approx(1 * px)]
    assert (acc["closing_ha"] == acc["opening_ha"] + acc["additions_ha"]
            - acc["reductions_ha"]).all()
    assert acc["opening_ha"].iloc[1] == acc["closing_ha"].iloc[0]
    assert acc["closing_ha"].iloc[1] == pytest.approx(np.count_nonzero(y2 == 1) * px)
    f = fragmentation(y2)
    assert (acc["n_patches"].iloc[1], acc["edge_density_m_per_ha"].iloc[1]) == \
        (f.n_patches, pytest.approx(f.edge_density_m_per_ha))
    # the change table nets that year's gain and re-loss: the same net change, smaller flows
    rows = change_rows({2024: (2 * px, 0), 2025: (2 * px, 0)}, baseline=18 * px)
    table = extent_account(rows)
    assert table["additions_ha"].iloc[1] == 0 and table["reductions_ha"].iloc[1] == 0
    assert acc["net_change_ha"].iloc[0] == pytest.approx(table["net_change_ha"].iloc[0])


def test_baseline_class_map_from_a_change_map() -> None:
    change = np.array([[0, 1, 2], [3, 255, 1]], np.uint8)
    np.testing.assert_array_equal(baseline_class_map(change),
                                  np.array([[0, 1, 0], [1, 255, 1]], np.uint8))


# --- GBF A.2, trend ---------------------------------------------------------------------------


def test_extent_trend_and_gbf_a2_by_hand() -> None:
    acc = extent_account(change_rows({2023: (0, 0), 2024: (5, 2), 2025: (3, 1)}))
    t = extent_trend(acc)
    assert (t.first_year, t.last_year, t.baseline_ha) == (2023, 2025, 100)
    assert (t.change_ha, t.change_pct) == (pytest.approx(2.0), pytest.approx(2.0))
    # least squares through (2022, 100), (2023, 100), (2024, 103), (2025, 102): 4.5 / 5
    assert t.slope_ha_per_yr == pytest.approx(0.9)
    a2 = gbf_a2(acc)
    assert a2["extent_ha"].tolist() == [100, 103, 102]
    assert a2["change_since_baseline_pct"].tolist() == pytest.approx([0, 3, 2])


# --- standards map ----------------------------------------------------------------------------

FIELDS = {"site", "habitat", "year", "baseline_ha", "baseline_start", "baseline_end",
          "baseline_stock_t", "baseline_stock_low_t", "baseline_stock_high_t", "protected_area",
          "change_pct", "first_year", "slope_ha_per_yr", "change_t", "change_low_t",
          "change_high_t", "conservative_t", "extent_ha", *ACCOUNT_COLUMNS}


def test_standards_map_is_complete_and_filtered() -> None:
    for e in STANDARD_EVIDENCE:
        assert e.citation and e.serves and e.title
        fields = {f for _, f, _, _ in string.Formatter().parse(e.sentence) if f}
        assert fields <= FIELDS, (e.item, fields - FIELDS)
        assert all(s.split(".")[0] in {"change", "accounts", "carbon"} for s in e.serves)
    mangrove_pa = {e.item for e in evidence_for("mangrove", protected_area=True)}
    seagrass = {e.item for e in evidence_for("seagrass", protected_area=False)}
    assert "Component 4: Successful conservation outcomes" in mangrove_pa
    assert "Component 4: Successful conservation outcomes" not in seagrass
    assert "Complementary: trends in mangrove forest fragmentation" in mangrove_pa
    assert "Complementary: global seagrass extent" in seagrass
    assert not any("mangrove" in i for i in seagrass)
    assert {"3.1", "7.2", "Headline indicator A.2"} <= mangrove_pa & seagrass
