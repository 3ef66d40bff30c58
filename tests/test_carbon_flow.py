"""The run's carbon step on hand-written tables: site factors from properties and a
``factors.toml`` (refused in one line before any work), error-adjusted areas from an accuracy
table when there is one, accounts from the change table when the maps are missing, and the same
rows from the same inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from aoi import Site
from flows.cli import main
from flows.monitor import update_carbon
from flows.results import store
from flows.site.carbon import (
    FactorsError,
    account_rows,
    carbon_rows,
    load_factors_file,
    site_factor_sets,
)
from indices.carbon import carbon_ledger, site_seed, with_error_adjusted_areas
from indices.carbon_factors import default_factors

MANGROVE = Site("flow-mangrove", "Flow mangrove", "mangrove", box(101.2, 3.3, 101.21, 3.31),
                dt.date(2023, 1, 1), dt.date(2023, 3, 31))
SEAGRASS = Site("flow-seagrass", "Flow seagrass", "seagrass", box(-2.12, 36.74, -2.11, 36.75),
                dt.date(2023, 1, 1), dt.date(2023, 3, 31))


def change_rows(site: Site, gain, loss, baseline: float = 50.0) -> pd.DataFrame:
    """Monthly change rows from 2023-01 with the given cumulative gain and loss, intervals of
    +-20 % on gain and loss and +-3 ha on the extent."""
    gain, loss = np.asarray(gain, float), np.asarray(loss, float)
    n = len(gain)
    extent = baseline + gain - loss
    return pd.DataFrame({
        "site_id": site.id, "habitat": site.habitat,
        "period": pd.date_range("2023-01-01", periods=n, freq="MS").date,
        "n_observations": np.full(n, 3, np.int32), "valid_fraction": 0.9,
        "extent_ha": extent, "baseline_extent_ha": baseline, "gain_ha": gain, "loss_ha": loss,
        "net_change_ha": gain - loss, "extent_ci_low_ha": extent - 3,
        "extent_ci_high_ha": extent + 3, "gain_ci_low_ha": 0.8 * gain,
        "gain_ci_high_ha": 1.2 * gain, "loss_ci_low_ha": 0.8 * loss,
        "loss_ci_high_ha": 1.2 * loss, "processing_version": "test", "run_id": "test"})


# --------------------------------------------------------------------------- factors


def _sites_file(tmp_path: Path, **properties) -> Path:
    feature = {"type": "Feature", "geometry": json.loads(json.dumps(MANGROVE.geometry.__geo_interface__)),
               "properties": {"id": MANGROVE.id, "name": MANGROVE.name, "habitat": "mangrove",
                              "baseline_start": "2023-01-01", "baseline_end": "2023-03-31",
                              **properties}}
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def test_factors_file_overrides_the_property_and_the_defaults(tmp_path):
    toml = tmp_path / "factors.toml"
    toml.write_text('[flow-mangrove]\nsource = "12 plots, 2024"\n'
                    'agb_t_dm_ha = { mean = 150.0, se = 10.0 }\nclimate_zone = "tropical_dry"\n')
    site = Site(MANGROVE.id, MANGROVE.name, "mangrove", MANGROVE.geometry, MANGROVE.baseline_start,
                MANGROVE.baseline_end,
                properties={"carbon_factors": {"source": "paper", "root_shoot": 0.5}})
    factors = site_factor_sets([site], toml)[site.id]
    assert factors.method == "site-plots" and factors.climate_zone == "tropical_dry"
    assert factors.agb_t_dm_ha.value == 150.0
    assert factors.agb_t_dm_ha.low == pytest.approx(150 - 1.96 * 10)
    assert factors.root_shoot.value == 0.5                      # from the property
    assert factors.soil_c_t_ha == default_factors("mangrove", "tropical_dry").soil_c_t_ha
    assert factors.note == "paper; 12 plots, 2024"
    # a GeoPackage field holds the property as JSON text
    text = Site(MANGROVE.id, MANGROVE.name, "mangrove", MANGROVE.geometry, MANGROVE.baseline_start,
                MANGROVE.baseline_end,
                properties={"carbon_factors": '{"source": "paper", "root_shoot": 0.5}'})
    assert site_factor_sets([text])[site.id].root_shoot.value == 0.5


@pytest.mark.parametrize(("toml", "needle"), [
    ('[flow-mangrov]\nsource = "x"\nroot_shoot = 0.5\n', "no site 'flow-mangrov'"),
    ('[flow-mangrove]\nsource = "x"\nagb = 3\n', "unknown carbon factor"),
    ('[flow-mangrove]\nsource = "x"\nagb_t_dm_ha = { mean = 150.0, se = -1 }\n', "se must be"),
    ('[flow-mangrove]\nroot_shoot = 0.5\n', "need a 'source'"),
    ('[flow-mangrove]\nsource = "x"\nclimate_zone = "boreal"\nroot_shoot = 0.5\n',
     "climate_zone must be"),
    ("[flow-mangrove\n", "not valid TOML"),
    ("root_shoot = 0.5\n", "not a table"),
])
def test_bad_factors_are_one_line_before_any_work(tmp_path, capsys, toml, needle):
    factors = tmp_path / "factors.toml"
    factors.write_text(toml)
    out = tmp_path / "results"
    code = main(["run", "--sites", str(_sites_file(tmp_path)), "--factors", str(factors),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bluecarbon: error: ") and err.count("\n") == 1, err
    assert needle in err and not out.exists()


def test_bad_factors_property_names_the_site(tmp_path, capsys):
    sites = _sites_file(tmp_path, carbon_factors={"source": "x", "soil_loss_fraction": 1.5})
    assert main(["run", "--sites", str(sites), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "site flow-mangrove (carbon_factors)" in err and "fraction" in err
    with pytest.raises(FactorsError, match="does not exist"):
        load_factors_file(tmp_path / "missing.toml")


# --------------------------------------------------------------------------- the step


def _accuracy(site: Site, period: str, gain: float, loss: float, stable: float) -> pd.DataFrame:
    """A hand-written accuracy table's rows (the contract's columns)."""
    return pd.DataFrame({
        "site_id": site.id, "period": pd.Timestamp(period).date(),
        "class": ["stable_habitat", "gain", "loss", "stable_other"],
        "estimated_area_ha": [stable, gain, loss, 100.0],
        "ci_low_ha": [stable - 2, gain * 0.5, loss * 0.6, 95.0],
        "ci_high_ha": [stable + 2, gain * 1.5, loss * 1.4, 105.0]})


def _write_accuracy(out: Path, rows: pd.DataFrame) -> None:
    """The ``accuracy`` table as its writer lays it out (hive by site_id)."""
    if "accuracy" in store.TABLES:  # the accuracy CLI has landed: write it through the store
        full = rows.assign(n_samples=50, map_area_ha=rows["estimated_area_ha"],
                           users_accuracy=0.9, producers_accuracy=0.9, overall_accuracy=0.9,
                           method="labels", assessed_on=dt.date(2025, 1, 10))
        spec = store.TABLES["accuracy"]
        for col in spec.columns:  # the columns this test does not need, left empty
            if col not in full:
                full[col] = None
        store.write_rows(out, "accuracy", full[list(spec.columns)])
        return
    path = out / "accuracy" / f"site_id={rows['site_id'].iloc[0]}" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    rows.drop(columns="site_id").to_parquet(path)


def test_error_adjusted_areas_where_an_assessment_exists(tmp_path):
    out = tmp_path / "results"
    rows = change_rows(MANGROVE, [0] * 6 + [4.0] * 18, [0] * 8 + [3.0] * 16)
    store.write_rows(out, "change", rows)
    factors = site_factor_sets([MANGROVE])[MANGROVE.id]
    mapped = update_carbon.fn(out, MANGROVE, factors, 7, "r1")
    assert mapped == {"carbon": 24, "accounts": 2}
    before = store.read_table(out, "carbon", MANGROVE.id)
    _write_accuracy(out, _accuracy(MANGROVE, "2024-06-01", gain=6.0, loss=2.0, stable=45.0))
    update_carbon.fn(out, MANGROVE, factors, 7, "r2")
    after = store.read_table(out, "carbon", MANGROVE.id)
    month = pd.to_datetime(after["period"]) == pd.Timestamp("2024-06-01")
    assert list(after.loc[month, "area_source"]) == ["accuracy assessment"]
    assert set(after.loc[~month, "area_source"]) == {"map"}
    assert after.loc[month, "extent_ha"].iloc[0] == pytest.approx(45.0 + 6.0)
    # the same rows as the core's ledger on the core's error-adjusted areas
    acc = _accuracy(MANGROVE, "2024-06-01", gain=6.0, loss=2.0, stable=45.0)
    expected = carbon_ledger(with_error_adjusted_areas(
        rows.assign(period=pd.to_datetime(rows["period"])), acc), factors,
        baseline_end=MANGROVE.baseline_end, seed=site_seed(7, MANGROVE.id))
    np.testing.assert_allclose(after["change_tco2e"], expected["change_tco2e"])
    np.testing.assert_allclose(after["change_ci_low_tco2e"], expected["change_ci_low_tco2e"])
    # other months are the map's: untouched by the assessment
    np.testing.assert_allclose(after.loc[~month & (pd.to_datetime(after["period"])
                                                   < pd.Timestamp("2024-06-01")),
                                         "change_tco2e"],
                               before.loc[~month & (pd.to_datetime(before["period"])
                                                    < pd.Timestamp("2024-06-01")),
                                          "change_tco2e"])


def test_same_inputs_same_rows_and_bytes(tmp_path):
    rows = change_rows(SEAGRASS, [0] * 14, [0, 0, 0] + [2.0] * 11)
    factors = site_factor_sets([SEAGRASS])[SEAGRASS.id]
    a = carbon_rows(SEAGRASS, rows, factors, seed=3, run_id="x")
    b = carbon_rows(SEAGRASS, rows, factors, seed=3, run_id="x")
    pd.testing.assert_frame_equal(a, b)
    store.write_rows(tmp_path / "a", "carbon", a)
    store.write_rows(tmp_path / "b", "carbon", b)
    part = Path("carbon") / f"site_id={SEAGRASS.id}" / "part-0.parquet"
    assert (tmp_path / "a" / part).read_bytes() == (tmp_path / "b" / part).read_bytes()


def test_one_sided_change_has_the_sign_of_the_area_change():
    """Gain only: carbon rises (slowly); loss only: it falls; nothing: zero, with an interval
    around zero. (A loss and a gain together can give a net emission with a net area gain: a
    mature stand's biomass goes at once, a planting's grows over years; see the README.)"""
    factors = site_factor_sets([MANGROVE])[MANGROVE.id]
    gain = carbon_rows(MANGROVE, change_rows(MANGROVE, [0, 0] + [5.0] * 22, [0] * 24), factors)
    loss = carbon_rows(MANGROVE, change_rows(MANGROVE, [0] * 24, [0, 0] + [5.0] * 22), factors)
    quiet = carbon_rows(MANGROVE, change_rows(MANGROVE, [0] * 24, [0] * 24), factors)
    assert (gain["change_tco2e"].iloc[3:] > 0).all()
    assert (loss["change_tco2e"].iloc[2:] < 0).all()
    assert (quiet["change_tco2e"] == 0).all()
    assert (quiet["change_ci_low_tco2e"] <= 0).all() and (quiet["change_ci_high_tco2e"] >= 0).all()
    doubt = change_rows(MANGROVE, [0] * 24, [0] * 24).assign(gain_ci_high_ha=1.0,
                                                                loss_ci_high_ha=1.0)
    doubtful = carbon_rows(MANGROVE, doubt, factors)  # the map's doubt about gain and loss
    assert (doubtful["change_tco2e"] == 0).all()
    # zero is inside the interval, at its top: a doubtful loss would emit at once, a doubtful
    # gain would hold no carbon yet (new area accrues it over years)
    assert (doubtful["change_ci_low_tco2e"] < 0).all()
    assert (doubtful["change_ci_high_tco2e"] >= 0).all()


def test_accounts_from_the_change_table_without_maps(tmp_path):
    rows = change_rows(MANGROVE, [0] * 12 + [3.0] * 12 + [5.0] * 6, [0] * 15 + [2.0] * 15)
    account = account_rows(MANGROVE, rows, None, run_id="x")
    assert list(account["year"]) == [2023, 2024, 2025]
    assert set(account["flows_from"]) == {"change table"}
    assert account["n_patches"].isna().all()
    assert list(account["closing_period"]) == [dt.date(2023, 12, 1), dt.date(2024, 12, 1),
                                               dt.date(2025, 6, 1)]
    np.testing.assert_allclose(account["closing_ha"], [50.0, 51.0, 53.0])
    np.testing.assert_allclose(account["opening_ha"].iloc[1:], account["closing_ha"].iloc[:-1])
    store.write_rows(tmp_path, "accounts", account)
    stored = store.read_table(tmp_path, "accounts")
    assert stored["n_patches"].isna().all() and list(stored["year"]) == [2023, 2024, 2025]
