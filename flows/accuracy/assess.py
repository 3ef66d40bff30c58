"""``bluecarbon accuracy assess``: error-adjusted areas and accuracies from labelled samples.

Labels come from a field team's sheet (:func:`assess_labels`) or from reference maps on the
design's grid (:func:`assess_reference`: with two maps, the change classes; with one, the
extent alone). The estimate is :func:`indices.accuracy.assess` (Olofsson et al. 2014, Remote
Sens. Environ. 148:42-57, eqs. 2-10) and :func:`indices.accuracy.assess_extent`. The rows
go to the Parquet table ``<out>/accuracy/`` (:data:`flows.results.store.TABLES`, key
site + period + class): each assessment writes all five rows of its month (the four classes
and ``extent``; classes it cannot estimate are null), so a month never mixes two
assessments. A reference map does not replace field labels unless asked (``replace``).
Any problem with the labels is one :class:`indices.accuracy.LabelError`, before anything
is written.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aoi import SitesError
from flows import PROCESSING_VERSION
from flows.accuracy.folder import ACCURACY_DIR, AccuracyError, load_design, parse_period
from flows.accuracy.inputs import find_site, read_change_map
from flows.accuracy.labels import check_points, design_of, read_labels
from flows.accuracy.reference import reference_on_grid
from flows.results.store import check_site_id, read_table, write_rows
from indices.accuracy import (
    TABLE_COLUMNS,
    assess,
    assess_extent,
    labels_from_codes,
    reference_change,
    validate_labels,
)
from indices.sampling import CLASSES, Design, map_digest

__all__ = ["Assessed", "assess_labels", "assess_reference", "results_of_labels"]

TABLE = "accuracy"


@dataclass(frozen=True)
class Assessed:
    design: Design
    rows: pd.DataFrame
    """The rows written (columns of the ``accuracy`` table)."""
    notes: tuple[str, ...] = ()

    def lines(self, out: str | Path) -> list[str]:
        """What the command prints: areas with 95 % intervals and accuracies."""
        r = self.rows.set_index("class")
        d, first = self.design, self.rows.iloc[0]
        rows = [f"{d.site_id} {d.period}: assessed with {d.n} reference points "
                f"({first['method']}: {first['source']})",
                f"  {'class':<16}{'map ha':>10}{'estimate ha':>13}{'95 % interval ha':>20}"
                f"{'users':>8}{'producers':>11}"]

        def pct(v) -> str:
            return "" if pd.isna(v) else f"{v:.1%}"

        for name in (*CLASSES, "extent"):
            x = r.loc[name]
            est = "" if pd.isna(x["estimated_area_ha"]) else f"{x['estimated_area_ha']:,.2f}"
            ci = ("" if pd.isna(x["ci_low_ha"]) else
                  f"{x['ci_low_ha']:,.2f} – {x['ci_high_ha']:,.2f}")
            rows.append(f"  {name:<16}{x['map_area_ha']:>10,.2f}{est:>13}{ci:>20}"
                        f"{pct(x['users_accuracy']):>8}{pct(x['producers_accuracy']):>11}")
        four = r.loc["stable_other", "overall_accuracy"]
        if pd.isna(four):
            rows.append("  overall accuracy (habitat / not habitat): "
                        f"{pct(r.loc['extent', 'overall_accuracy'])}")
        else:
            rows.append(f"  overall accuracy (the four classes): {pct(four)}")
        rows += [f"note: {n}" for n in self.notes]
        rows.append(f"written: {Path(out) / ACCURACY_DIR}/site_id={d.site_id}/ "
                    f"(table accuracy, period {d.period})")
        return rows


def _map_changed(out: Path, design: Design, sites) -> tuple[bool | None, list[str]]:
    """Whether the month's change map differs from the one the design was drawn from (a
    rerun since): the assessment then refers to the earlier map. None if it cannot be told."""
    try:
        site = find_site(out, design.site_id, sites)
        change = read_change_map(out, site, design.period)
    except (AccuracyError, SitesError) as exc:
        return None, [f"could not compare with the current change map ({exc})"]
    if change.codes.shape != tuple(design.shape):
        return True, ["the change map is on another grid than the design's"]
    changed = map_digest(change.codes, change.mask) != design.map_digest
    return changed, (["the change map was recomputed after the sample was drawn: these "
                      "figures describe the map the sample was drawn from"] if changed else [])


def _finish(out: Path, design: Design, table: pd.DataFrame, method: str, source: str,
            sites, replace: bool) -> Assessed:
    """Complete the rows (all five classes, provenance) and write them."""
    table = table.set_index("class").reindex([*CLASSES, "extent"])
    numbers = [c for c in TABLE_COLUMNS if c not in ("site_id", "period", "class")]
    table[numbers] = table[numbers].astype("float64")
    for name, stratum in zip(CLASSES, design.strata, strict=True):  # what the design knows
        table.loc[name, ["n_samples", "map_area_ha"]] = [stratum.n, stratum.area_ha]
    table["site_id"] = design.site_id
    table["period"] = dt.date.fromisoformat(f"{design.period}-01")
    table = table.reset_index()
    changed, notes = _map_changed(out, design, sites)
    table["method"] = method
    table["source"] = source
    table["sample_size"] = design.n
    table["design_seed"] = design.seed
    table["map_changed"] = pd.array([changed] * len(table), dtype="boolean")
    table["assessed_on"] = dt.datetime.now(dt.UTC).date()
    table["assessment_id"] = (f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-"
                              f"{secrets.token_hex(4)}")
    table["processing_version"] = PROCESSING_VERSION
    table["n_samples"] = table["n_samples"].astype("int64")
    _guard(out, design, method, replace)
    write_rows(out, TABLE, table[[*TABLE_COLUMNS, *_EXTRA]])
    return Assessed(design, table, tuple(notes))


_EXTRA = ["method", "source", "sample_size", "design_seed", "map_changed", "assessed_on",
          "assessment_id", "processing_version"]


def _guard(out: Path, design: Design, method: str, replace: bool) -> None:
    """A reference map's labels never replace a field team's without ``replace``."""
    if method == "labels" or replace:
        return
    stored = read_table(out, TABLE, design.site_id)
    month = dt.date.fromisoformat(f"{design.period}-01")
    held = stored[(pd.to_datetime(stored["period"]).dt.date == month)
                  & (stored["method"] == "labels")]
    if len(held):
        raise AccuracyError(f"{design.site_id} {design.period} is already assessed from "
                            f"labels ({held['source'].iloc[0]}, {held['assessed_on'].iloc[0]}); "
                            "pass --replace to replace it with a reference map's")


def results_of_labels(labels: str | Path) -> Path | None:
    """The results folder a labels file sits in, when it is in its design's folder
    (``<out>/accuracy/<site>/<YYYY-MM>/<file>``); else None."""
    parts = Path(labels).resolve().parts
    if len(parts) >= 5 and parts[-4] == ACCURACY_DIR:
        return Path(*parts[:-4])
    return None


def assess_labels(out: str | Path | None, labels_path: str | Path, *,
                  sites: str | Path | None = None, replace: bool = False) -> tuple[Path, Assessed]:
    """Assess the design that a labels file's sample ids name; returns the results folder
    used (``out``, or the one the labels file sits in, or ``./results``) and the rows."""
    labels = read_labels(labels_path)
    site_id, period = design_of(labels, labels_path)
    if out is None:
        inferred = results_of_labels(labels_path)
        out = inferred if inferred is not None else Path("results")
    out = Path(out)
    design = load_design(out, check_site_id(site_id), parse_period(period))
    validate_labels(labels, design)  # LabelError: one line, nothing written
    check_points(labels, design)
    result = assess(design, labels)
    return out, _finish(out, design, result.table(), "labels", Path(labels_path).name, sites,
                        replace)


def assess_reference(out: str | Path, site_id: str, period: str, reference: str | Path, *,
                     baseline: str | Path | None = None, sites: str | Path | None = None,
                     replace: bool = False) -> Assessed:
    """Label the design from reference maps: ``reference`` (habitat in the month's year) and,
    with ``baseline`` (habitat in the baseline's year), the change classes; with one map, the
    extent alone (:func:`indices.accuracy.assess_extent`)."""
    out = Path(out)
    design = load_design(out, check_site_id(site_id), parse_period(period))
    now = reference_on_grid(reference, design.transform, design.shape, design.crs)
    if baseline is None:
        table = assess_extent(design, now.habitat, now.valid)
        source = Path(reference).name
    else:
        then = reference_on_grid(baseline, design.transform, design.shape, design.crs)
        codes = reference_change(then.habitat, now.habitat, now.valid & then.valid)
        table = assess(design, labels_from_codes(design, codes)).table()
        source = f"{Path(baseline).name} -> {Path(reference).name}"
    return _finish(out, design, table, "reference", source, sites, replace)
