"""Carbon ledger: hand-computed stocks and changes, Monte Carlo reproducibility and convergence,
the VM0033 deduction on both sides of its threshold, and the factor overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from indices.carbon import (
    DEFAULT_DRAWS,
    LEDGER_COLUMNS,
    carbon_ledger,
    cohort_shares,
    site_seed,
    vm0033_adjusted,
    with_error_adjusted_areas,
)
from indices.carbon_factors import (
    FACTOR_NAMES,
    Factor,
    FactorsError,
    apply_overrides,
    climate_zone,
    default_factors,
    factors_id,
    parse_factors,
    site_factors,
)

C2CO2 = 44 / 12


def fixed(value: float) -> Factor:
    return Factor(value, value, value, "fixed", "-", "test")


def spread(value: float, rel: float = 0.3) -> Factor:
    return Factor(value, value * (1 - rel), value * (1 + rel), "ci95", "-", "test")


ROUND = dict(agb_t_dm_ha=100.0, agb_growth_t_dm_ha_yr=10.0, root_shoot=0.5,
             carbon_fraction=0.5, soil_c_t_ha=200.0, soil_accrual_t_c_ha_yr=2.0,
             soil_loss_fraction=0.5, soil_half_life_yr=1.0)
"""Round factors for cases worked by hand: biomass 100 t d.m./ha x 1.5 x 0.5 = 75 t C/ha
= 275 tCO2e/ha; soil 200 t C/ha = 733.33 tCO2e/ha."""


def round_factors(habitat: str = "mangrove", make=fixed, **changes) -> object:
    base = default_factors("mangrove", "tropical_wet") if habitat == "mangrove" \
        else default_factors("seagrass")
    values = {**ROUND, **changes}
    kw = {n: make(values[n]) for n in FACTOR_NAMES if getattr(base, n) is not None}
    return dataclasses.replace(base, **kw)


def months(n: int, start=(2023, 1)) -> list[dt.date]:
    y, m = start
    out = []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def rows(gain, loss, baseline=100.0, habitat="mangrove", **extra) -> pd.DataFrame:
    gain, loss = np.asarray(gain, float), np.asarray(loss, float)
    frame = pd.DataFrame({
        "site_id": "test-site", "habitat": habitat, "period": months(len(gain)),
        "baseline_extent_ha": baseline, "gain_ha": gain, "loss_ha": loss,
        "extent_ha": baseline + gain - loss,
    })
    for key, value in extra.items():
        frame[key] = value
    return frame


# --- hand-computed cases --------------------------------------------------------------------


def test_stock_and_change_by_hand_to_the_tonne() -> None:
    # baseline 100 ha; a month later 20 ha gained and 10 ha lost; then 12 quiet months
    r = rows([0] + [20] * 13, [0] + [10] * 13)
    out = carbon_ledger(r, round_factors(), n_draws=200, seed=1)
    assert list(out.columns[:len(LEDGER_COLUMNS)]) == list(LEDGER_COLUMNS)
    bio, soil = 100 * 1.5 * 0.5 * C2CO2, 200 * C2CO2               # 275, 733.33 tCO2e/ha
    base = 100 * (bio + soil)                                       # 100,833.33
    # month 1: the loss's biomass goes at once, its soil is all still there; the gain is new
    stock1 = 90 * (bio + soil) + 0 + 10 * soil
    # month 13, one year on: gain grew 10 t d.m./ha (x 1.5 x 0.5) and 2 t C/ha of soil; the
    # lost soil emitted 0.5 x (1 - 0.5^(1 yr / 1 yr)) = 25 % of its carbon
    stock13 = (90 * (bio + soil) + 20 * (10 * 1.5 * 0.5 * C2CO2 + 2 * C2CO2)
               + 10 * soil * (1 - 0.5 * (1 - 0.5)))
    assert round(stock1) == 98083 and round(stock13) == 96947 and round(base) == 100833
    assert out["stock_tco2e"].iloc[0] == pytest.approx(base, abs=0.5)
    assert out["change_tco2e"].iloc[0] == 0
    assert out["stock_tco2e"].iloc[1] == pytest.approx(stock1, abs=0.5)
    assert out["change_tco2e"].iloc[1] == pytest.approx(stock1 - base, abs=0.5)   # -2,750
    assert out["stock_tco2e"].iloc[13] == pytest.approx(stock13, abs=0.5)
    assert out["change_tco2e"].iloc[13] == pytest.approx(stock13 - base, abs=0.5)  # -3,887
    # every factor fixed and no area interval: the intervals are the point
    for what in ("stock", "change"):
        np.testing.assert_allclose(out[f"{what}_ci_low_tco2e"], out[f"{what}_tco2e"], atol=1e-6)
        np.testing.assert_allclose(out[f"{what}_ci_high_tco2e"], out[f"{what}_tco2e"], atol=1e-6)
    assert (out["method"] == "ipcc2013-tier1").all() and out["factors_id"].nunique() == 1


def test_gained_biomass_is_capped_at_the_closed_stand() -> None:
    # 20 years of growth at 10 t d.m./ha/yr would be 200; the cap is the stand's 100
    n = 12 * 20 + 2
    out = carbon_ledger(rows([0] + [5] * (n - 1), [0] * n), round_factors(), n_draws=200)
    years = (n - 2) / 12
    expected = 5 * (100 * 1.5 * 0.5 * C2CO2 + 2 * years * C2CO2)
    assert out["change_tco2e"].iloc[-1] == pytest.approx(expected, abs=0.5)


def test_canopy_classes_weight_biomass_by_hand() -> None:
    # closed canopy on 70 ha, 50-80 % on 20 ha, 20-50 % on 10 ha; then 10 ha thin to 20-50 %
    r = rows([0, 0, 10], [0, 0, 0])
    r["canopy_20_50_ha"] = [10.0, 20.0, 6.0]
    r["canopy_50_80_ha"] = [20.0, 20.0, 20.0]
    r["canopy_80_100_ha"] = [70.0, 60.0, 84.0]
    out = carbon_ledger(r, round_factors(), n_draws=200)
    bio = 100 * 1.5 * 0.5 * C2CO2
    w0 = (10 * 0.35 / 0.9 + 20 * 0.65 / 0.9 + 70 * 1.0) / 100          # 0.88333
    w1 = (20 * 0.35 / 0.9 + 20 * 0.65 / 0.9 + 60 * 1.0) / 100          # 0.82222
    assert out["change_tco2e"].iloc[1] == pytest.approx(100 * bio * (w1 - w0), abs=0.5)
    # month 2: the 10 ha gained take the 6 ha of 20-50 % and 4 of 50-80 %; soil accrual weight
    # (VM0033: 0.35 cover -> (0.35 - 0.15) / 0.35) is 0 at age 0 anyway; the stable 100 ha keep
    # 16 ha of 50-80 % and 84 of closed canopy
    w2 = (16 * 0.65 / 0.9 + 84 * 1.0) / 100
    assert out["change_tco2e"].iloc[2] == pytest.approx(100 * bio * (w2 - w0), abs=0.5)


def test_soil_accrual_follows_vm0033_cover_rule() -> None:
    # gained 10 ha, all in the 20-50 % class, for a year: soil weight (0.35 - 0.15)/(0.5 - 0.15)
    n = 14
    r = rows([0] + [10] * (n - 1), [0] * n)
    r["canopy_20_50_ha"] = [0.0] + [10.0] * (n - 1)
    r["canopy_50_80_ha"] = 0.0
    r["canopy_80_100_ha"] = [100.0] * n
    no_growth = round_factors(agb_growth_t_dm_ha_yr=0.0)
    out = carbon_ledger(r, no_growth, n_draws=200)
    assert out["change_tco2e"].iloc[-1] == pytest.approx(10 * 2 * 1.0 * C2CO2 * 0.2 / 0.35,
                                                         abs=0.05)


def test_seagrass_soil_only_with_half_life() -> None:
    r = rows([0] * 14, [0] + [10] * 13, habitat="seagrass")
    f = round_factors("seagrass", soil_loss_fraction=1.0)
    out = carbon_ledger(r, f, n_draws=200)
    soil = 200 * C2CO2
    assert out["stock_tco2e"].iloc[0] == pytest.approx(100 * soil)
    assert out["change_tco2e"].iloc[1] == pytest.approx(0.0, abs=1e-6)   # no biomass pool
    assert out["change_tco2e"].iloc[13] == pytest.approx(-10 * soil * 0.5, abs=0.5)  # 1 yr


def test_a_month_without_interval_gets_none_from_its_neighbour() -> None:
    r = rows([0, 5, 5, 5], [0, 0, 0, 0], gain_ci_low_ha=[0.0, 2.0, 2.0, np.nan],
             gain_ci_high_ha=[0.0, 9.0, 9.0, np.nan])
    out = carbon_ledger(r, round_factors(agb_growth_t_dm_ha_yr=120.0), n_draws=256)
    assert out["change_ci_high_tco2e"].iloc[2] > out["change_tco2e"].iloc[2] + 1
    assert out["change_ci_low_tco2e"].iloc[3] == pytest.approx(out["change_tco2e"].iloc[3])
    assert out["change_ci_high_tco2e"].iloc[3] == pytest.approx(out["change_tco2e"].iloc[3])


def test_missing_months_keep_calendar_ages() -> None:
    full = rows([0] + [20] * 13, [0] + [10] * 13)
    gap = full.iloc[[0, 1, 13]]
    a = carbon_ledger(full, round_factors(), n_draws=200).iloc[[0, 1, 13]].reset_index(drop=True)
    b = carbon_ledger(gap, round_factors(), n_draws=200)
    pd.testing.assert_frame_equal(a, b)


# --- cohorts, signs, no change -------------------------------------------------------------


def test_cohort_shares_youngest_leave_first() -> None:
    p = cohort_shares(np.array([0.0, 10.0, 10.0, 15.0, 12.0]))
    expected = np.zeros((5, 5))
    expected[0, 0] = 1                              # nothing yet: a drawn area is brand new
    expected[1, 0] = 1
    expected[2, 1] = 1
    expected[3, 2], expected[3, 0] = 10 / 15, 5 / 15
    expected[4, 3], expected[4, 1] = 10 / 12, 2 / 12   # 3 ha left the youngest cohort
    np.testing.assert_allclose(p, expected)


def test_change_has_the_sign_of_a_one_sided_area_change() -> None:
    f = round_factors(make=spread)
    gain = carbon_ledger(rows([0, 0] + [5] * 24, [0] * 26), f, seed=3)
    loss = carbon_ledger(rows([0] * 26, [0, 0] + [5] * 24), f, seed=3)
    assert (gain["change_tco2e"].iloc[3:] > 0).all()
    assert np.all(np.diff(gain["change_tco2e"].iloc[2:]) > 0)       # accrues, not instantly
    assert (loss["change_tco2e"].iloc[2:] < 0).all()
    assert np.all(np.diff(loss["change_tco2e"].iloc[2:]) < 0)       # soil keeps emitting
    # mature forest lost, young planting gained: net area up, carbon down (not instant accrual)
    mixed = carbon_ledger(rows([0, 6], [0, 5]), f, seed=3)
    assert mixed["change_tco2e"].iloc[1] < 0


def test_no_change_is_zero_with_an_interval_around_zero() -> None:
    f = round_factors(make=spread)
    quiet = carbon_ledger(rows([0] * 12, [0] * 12), f, seed=5)
    assert (quiet["change_tco2e"] == 0).all()
    assert (quiet["change_ci_low_tco2e"] == 0).all() and (quiet["change_ci_high_tco2e"] == 0).all()
    # with map doubt about gain and loss the interval widens, still around zero
    doubt = rows([0] * 12, [0] * 12, extent_ci_low_ha=97.0, extent_ci_high_ha=103.0,
                 gain_ci_low_ha=0.0, gain_ci_high_ha=1.0, loss_ci_low_ha=0.0,
                 loss_ci_high_ha=1.0)
    out = carbon_ledger(doubt, f, seed=5)
    assert (out["change_tco2e"] == 0).all()
    assert (out["change_ci_low_tco2e"] < 0).all() and (out["change_ci_high_tco2e"] >= 0).all()
    assert (out["stock_ci_low_tco2e"] < out["stock_tco2e"]).all()
    assert (out["stock_ci_high_tco2e"] > out["stock_tco2e"]).all()


# --- Monte Carlo ---------------------------------------------------------------------------


def busy_rows() -> pd.DataFrame:
    gain = np.r_[np.zeros(6), np.linspace(0, 12, 18)]
    loss = np.r_[np.zeros(8), np.full(16, 4.0)]
    return rows(gain, loss, extent_ci_low_ha=100 + gain - loss - 3,
                extent_ci_high_ha=100 + gain - loss + 2, gain_ci_low_ha=gain * 0.7,
                gain_ci_high_ha=gain * 1.4, loss_ci_low_ha=loss * 0.8,
                loss_ci_high_ha=loss * 1.5)


def test_monte_carlo_same_seed_same_numbers() -> None:
    f = default_factors("mangrove", "tropical_wet")
    a = carbon_ledger(busy_rows(), f, seed=42)
    b = carbon_ledger(busy_rows(), f, seed=42)
    pd.testing.assert_frame_equal(a, b)
    c = carbon_ledger(busy_rows(), f, seed=43)
    assert not np.allclose(a["stock_ci_low_tco2e"], c["stock_ci_low_tco2e"])
    assert site_seed(0, "kenya-mida-creek") == site_seed(0, "kenya-mida-creek")
    assert site_seed(0, "kenya-mida-creek") != site_seed(0, "mexico-puerto-morelos")


@pytest.mark.parametrize("seed", [11, pytest.param(12, marks=pytest.mark.slow)])
def test_monte_carlo_converges_tenfold_draws(seed: int) -> None:
    f = default_factors("mangrove", "tropical_wet")
    print(f"seed={seed}")
    small = carbon_ledger(busy_rows(), f, n_draws=DEFAULT_DRAWS, seed=seed)
    large = carbon_ledger(busy_rows(), f, n_draws=10 * DEFAULT_DRAWS, seed=seed + 1000)
    for what in ("stock", "change"):
        lo_s, hi_s = small[f"{what}_ci_low_tco2e"], small[f"{what}_ci_high_tco2e"]
        lo_l, hi_l = large[f"{what}_ci_low_tco2e"], large[f"{what}_ci_high_tco2e"]
        width = (hi_l - lo_l).to_numpy()
        moving = width > 1e-9
        assert moving.sum() > 10
        # the same interval within 2 % of its width, at both ends, every month
        assert np.all(np.abs(lo_s - lo_l)[moving] <= 0.02 * width[moving]), what
        assert np.all(np.abs(hi_s - hi_l)[moving] <= 0.02 * width[moving]), what
        inside = (lo_l <= large[f"{what}_tco2e"]) & (large[f"{what}_tco2e"] <= hi_l)
        assert inside.all()


# --- VM0033 deduction ----------------------------------------------------------------------


def test_vm0033_deduction_exactly_when_the_rule_says() -> None:
    # 90 % half-width 20 % of the change: allowed, nothing deducted
    assert vm0033_adjusted(100.0, 80.0, 120.0) == (100.0, 0.2)
    # just over: the excess is deducted (Eq. 92: x (100 % - 20.01 % + 20 %))
    adjusted, u = vm0033_adjusted(100.0, 79.99, 120.01)
    assert u == pytest.approx(0.2001) and adjusted == pytest.approx(99.99)
    # 100 % uncertainty: 80 % deducted; beyond 120 % nothing is left
    assert vm0033_adjusted(100.0, 0.0, 200.0)[0] == pytest.approx(20.0)
    assert vm0033_adjusted(100.0, -50.0, 250.0)[0] == 0.0
    # a net emission is not shrunk; a zero change stays zero
    assert vm0033_adjusted(-100.0, -200.0, 0.0) == (-100.0, 1.0)
    assert vm0033_adjusted(0.0, 0.0, 0.0) == (0.0, 0.0)


def test_ledger_applies_the_deduction_from_its_own_interval() -> None:
    f = default_factors("mangrove", "tropical_wet")
    gain = np.r_[0.0, np.full(30, 10.0)]
    out = carbon_ledger(rows(gain, np.zeros(31)), f, seed=7)
    u = out["change_uncertainty_90_pct"] / 100
    change, conservative = out["change_tco2e"], out["change_conservative_tco2e"]
    over = (change > 0) & (u > 0.2)
    assert over.any()
    np.testing.assert_allclose(conservative[over],
                               change[over] * np.maximum(0, 1 - u[over] + 0.2), rtol=1e-12)
    np.testing.assert_array_equal(conservative[~over], change[~over])
    assert (conservative <= change + 1e-9).all()
    # site plots with a tight spread (1 % se) bring the uncertainty under 20 %: no deduction
    tight = {n: {"mean": getattr(f, n).value, "se": 0.01 * getattr(f, n).value}
             for n in FACTOR_NAMES}
    plots = apply_overrides(f, *parse_factors({"source": "test plots", **tight}))
    out2 = carbon_ledger(rows(gain, np.zeros(31)), plots, seed=7)
    later = out2["change_tco2e"] > 0
    assert (out2.loc[later, "change_uncertainty_90_pct"] < 20).all()
    assert (out2.loc[later, "change_conservative_tco2e"] == out2.loc[later, "change_tco2e"]).all()
    assert (out2["method"] == "site-plots").all()


# --- factors ---------------------------------------------------------------------------------


def test_climate_zone_from_latitude_and_properties() -> None:
    assert climate_zone(3.3) == "tropical_wet"
    assert climate_zone(-3.3, {"annual_precipitation_mm": 800}) == "tropical_dry"
    assert climate_zone(-3.3, {"annual_precipitation_mm": 1200}) == "tropical_wet"
    assert climate_zone(25.0) == "subtropical" and climate_zone(-30.0) == "subtropical"
    assert climate_zone(22.5, {"climate_zone": "subtropical"}) == "subtropical"
    with pytest.raises(FactorsError):
        climate_zone(3.0, {"climate_zone": "boreal"})


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and message.splitlines() == [message]
    return message


@pytest.mark.parametrize(("spec", "needle"), [
    ({"agb_t_dm_ha": 210}, "source"),
    ({"source": "plots", "agb": 210}, "unknown"),
    ({"source": "plots"}, "no factor"),
    ({"source": "plots", "agb_t_dm_ha": -1}, ">= 0"),
    ({"source": "plots", "agb_t_dm_ha": {"mean": 200, "se": -3}}, "se"),
    ({"source": "plots", "agb_t_dm_ha": {"mean": 200}}, "mean, se"),
    ({"source": "plots", "agb_t_dm_ha": "lots"}, "finite number"),
    ({"source": "plots", "soil_loss_fraction": 1.5}, "fraction"),
    ({"source": "plots", "agb_t_dm_ha": {"value": 200, "low": 210, "high": 230}}, "low"),
])
def test_parse_factors_refuses_in_one_line(spec, needle) -> None:
    with pytest.raises(FactorsError) as info:
        parse_factors(spec)
    assert needle in one_line(info)


def test_overrides_merge_and_change_the_id() -> None:
    defaults = site_factors("mangrove", 3.3)
    source, over = parse_factors({"source": "12 plots, 2024", "agb_t_dm_ha": {"mean": 210,
                                  "se": 10}, "soil_c_t_ha": 450})
    assert over["agb_t_dm_ha"] == Factor(210, 210 - 19.6, 210 + 19.6, "ci95", "t d.m./ha",
                                         "site data: 12 plots, 2024", "site data")
    assert over["soil_c_t_ha"].interval == "fixed"
    merged = apply_overrides(defaults, source, over)
    assert merged.method == "site-plots" and merged.note == "12 plots, 2024"
    assert merged.root_shoot == defaults.root_shoot
    via_props = site_factors("mangrove", 3.3, {"carbon_factors": {
        "source": "12 plots, 2024", "agb_t_dm_ha": {"mean": 210, "se": 10}, "soil_c_t_ha": 450}})
    assert via_props == merged
    # a factors.toml table for the site overrides the property, sources noted in order
    both = site_factors("mangrove", 3.3, {"carbon_factors": {"source": "plots", "root_shoot": 0.6}},
                        {"source": "cores 2025", "soil_c_t_ha": {"mean": 500, "se": 40}})
    assert (both.root_shoot.value, both.soil_c_t_ha.value) == (0.6, 500)
    assert both.note == "plots; cores 2025" and both.agb_t_dm_ha == defaults.agb_t_dm_ha
    ids = {factors_id(defaults), factors_id(merged), factors_id(site_factors("mangrove", 30.0))}
    assert len(ids) == 3 and all(len(i) == 12 for i in ids)
    assert factors_id(merged) == factors_id(via_props)
    with pytest.raises(FactorsError) as info:
        apply_overrides(default_factors("seagrass"), "plots", {"agb_t_dm_ha": fixed(1.0)})
    assert "does not apply" in one_line(info)


def test_every_default_has_a_source_and_unverified_ones_are_the_documented_ones() -> None:
    unverified = set()
    for habitat, zones in (("mangrove", ("tropical_wet", "tropical_dry", "subtropical")),
                           ("seagrass", (None,))):
        for zone in zones:
            for name, f in default_factors(habitat, zone).factors().items():
                assert f.source and f.unit and f.low <= f.value <= f.high
                if not f.verified:
                    unverified.add((habitat, zone, name))
    # the values recalled from the IPCC 2013 Wetlands Supplement but not checked (see report)
    assert unverified == {
        ("mangrove", "subtropical", "agb_t_dm_ha"),
        *{("mangrove", z, "agb_growth_t_dm_ha_yr")
          for z in ("tropical_wet", "tropical_dry", "subtropical")},
        ("seagrass", None, "soil_c_t_ha"), ("seagrass", None, "soil_accrual_t_c_ha_yr"),
    }


def test_rows_are_validated() -> None:
    f = round_factors()
    with pytest.raises(ValueError, match="lack"):
        carbon_ledger(rows([0], [0]).drop(columns="gain_ha"), f)
    two = pd.concat([rows([0], [0]), rows([0], [0]).assign(site_id="other")])
    with pytest.raises(ValueError, match="one site"):
        carbon_ledger(two, f)
    with pytest.raises(ValueError, match="seagrass"):
        carbon_ledger(rows([0], [0], habitat="seagrass"), f)


def test_error_adjusted_areas_replace_the_map_areas() -> None:
    r = rows([0, 5], [0, 2])
    acc = pd.DataFrame({
        "site_id": "test-site", "period": dt.date(2023, 2, 1),
        "class": ["stable_habitat", "gain", "loss", "stable_other"],
        "estimated_area_ha": [97.0, 6.0, 3.0, 50.0],
        "ci_low_ha": [94.0, 2.0, 1.0, 40.0], "ci_high_ha": [100.0, 10.0, 5.0, 60.0]})
    out = with_error_adjusted_areas(r, acc)
    first, second = out.iloc[0], out.iloc[1]
    assert first["gain_ha"] == 0 and np.isnan(first["gain_ci_low_ha"])
    assert (second["gain_ha"], second["loss_ha"], second["extent_ha"]) == (6.0, 3.0, 103.0)
    assert (second["gain_ci_low_ha"], second["gain_ci_high_ha"]) == (2.0, 10.0)
    assert second["extent_ci_low_ha"] == pytest.approx(103 - np.hypot(3, 4))
    assert second["extent_ci_high_ha"] == pytest.approx(103 + np.hypot(3, 4))
