"""The partner summary's plain language: headlines, sentences and table rows of a site's month.

Every sentence is built from the change row (and the alerts) of the month; nothing is shown as
this month's figure when the site was seen under :data:`flows.config.SEEN_MIN` of its area.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from aoi import Site
from flows.config import CLOSURE_RATIO, SEEN_MIN
from flows.reports.model import AccuracySection

__all__ = ["HABITAT_LABEL", "MAP_BASED_NOTE", "accuracy_section", "alerts_text", "ha", "missing_text", "month_status", "ok_text",
           "seen_clear", "signed"]

HABITAT_LABEL = {"mangrove": "Mangrove", "seagrass": "Seagrass"}


def ha(value: float) -> str:
    return f"{value:,.1f} ha"


def _range(low: float, high: float) -> str:
    return f"{low:,.1f} – {high:,.1f} ha"


def _change_words(value: float) -> str:
    if abs(value) < 0.05:
        return "no change"
    return f"a {'gain' if value > 0 else 'loss'} of {ha(abs(value))}"


def _interval(row: pd.Series, name: str) -> tuple[float, float] | None:
    low, high = row.get(f"{name}_ci_low_ha"), row.get(f"{name}_ci_high_ha")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    return float(low), float(high)


def _baseline_label(site: Site) -> str:
    a, b = site.baseline_start.year, site.baseline_end.year
    return f"{a}" if a == b else f"{a}–{b}"


def month_status(row: pd.Series | None, seen_min: float = SEEN_MIN) -> str:
    """``ok`` (a reliable figure), ``too_few`` (seen under ``seen_min`` of the site, or no
    usable scene) or ``no_data`` (no row) for a site's change row of a month."""
    if row is None:
        return "no_data"
    valid, n_obs, extent = row["valid_fraction"], row["n_observations"], row["extent_ha"]
    if pd.isna(n_obs) or n_obs == 0 or pd.isna(valid) or valid < seen_min:
        return "too_few"
    return "ok" if not pd.isna(extent) else "too_few"


def seen_clear(row: pd.Series | None, scenes: int) -> tuple[str, str]:
    if row is None or pd.isna(row["valid_fraction"]):
        return "—", f"{scenes} scene{'s' * (scenes != 1)} acquired"
    n = 0 if pd.isna(row["n_observations"]) else int(row["n_observations"])
    return f"{row['valid_fraction']:.0%}", f"{n} usable of {scenes} scene{'s' * (scenes != 1)}"


def signed(value: float) -> str:
    return f"{value:+,.1f} ha".replace("-", "\u2212")


def ok_text(site: Site, row: pd.Series, seen: tuple[str, str]) -> tuple[str, list, list]:
    """Headline, detail sentences and metric rows of a month with a reliable figure."""
    habitat = HABITAT_LABEL.get(site.habitat, site.habitat.capitalize())
    base = _baseline_label(site)
    extent, baseline, net = row["extent_ha"], row["baseline_extent_ha"], row["net_change_ha"]
    low, high = row["extent_ci_low_ha"], row["extent_ci_high_ha"]
    has_ci = not (pd.isna(low) or pd.isna(high))
    if abs(net) < 0.05:
        headline = f"{habitat} cover at {site.name} is about the same as at its {base} baseline."
    else:
        verb = "grew" if net > 0 else "shrank"
        headline = f"{habitat} cover at {site.name} {verb} by {ha(abs(net))} since the {base} baseline."
    if has_ci:
        headline += (f" The true change is likely between {_change_words(low - baseline)} "
                     f"and {_change_words(high - baseline)}.")
    details = [
        f"It now covers {ha(extent)}" + (f" (likely {_range(low, high)})" if has_ci else "")
        + f": {ha(row['gain_ha'])} of new {site.habitat} and {ha(row['loss_ha'])} lost "
        f"since the baseline, when it covered {ha(baseline)}.",
        f"Satellites saw {seen[0]} of the site clear of cloud this month ({seen[1]}).",
    ]
    turbid = row.get("turbid")  # column added in issue 6; null where not assessed
    if turbid is not None and not pd.isna(turbid) and bool(turbid):
        details.append("The water was turbid this month, so part of the seagrass may have been "
                       "hidden from view; treat this month's figure with care.")
    canopy = _canopy_text(row)
    if canopy:
        details.append(canopy[0])
    recovery = _recovery_text(row)
    if recovery:
        details.append(recovery[0])
    metrics = [("Habitat extent", ha(extent), _range(low, high) if has_ci else ""),
               (f"Baseline extent ({base})", ha(baseline), "")]
    for name, label in (("gain", "Gain since baseline"), ("loss", "Loss since baseline")):
        ci = _interval(row, name)
        metrics.append((label, ha(row[f"{name}_ha"]),
                        _range(*ci) if ci else "no interval available"))
    net_range = f"{signed(low - baseline)[:-3]} to {signed(high - baseline)}" if has_ci else ""
    metrics.append(("Net change since baseline", signed(net), net_range))
    for extra in (canopy, recovery):
        if extra:
            metrics.extend(extra[1])
    return headline, details, metrics


_CANOPY_CLASSES = (("canopy_80_100_ha", "dense", "80–100 %"),
                   ("canopy_50_80_ha", "medium", "50–80 %"),
                   ("canopy_20_50_ha", "open", "20–50 %"))


def _value(row: pd.Series, name: str) -> float | None:
    value = row.get(name)  # columns added in issue 6: absent in older stores, null where n/a
    return None if value is None or pd.isna(value) else float(value)


def _canopy_text(row: pd.Series) -> tuple[str, list] | None:
    """Canopy density classes (mangrove sites) as a sentence and metric rows; None if the
    store has none for this month."""
    values = [(_value(row, col), word, span) for col, word, span in _CANOPY_CLASSES]
    if any(v is None for v, _, _ in values):
        return None
    parts = [f"{ha(v)} {word} ({span})" for v, word, span in values]
    sentence = ("Canopy cover over the mangrove and the restoration zone: "
                f"{', '.join(parts[:-1])} and {parts[-1]}.")
    return sentence, [(f"Canopy {word} ({span} cover)", ha(v), "") for v, word, span in values]


def _recovery_text(row: pd.Series) -> tuple[str, list] | None:
    """The restoration's greenness against its intact reference site (sites with a
    ``reference_site``), and whether canopy closure was reached."""
    ratio = _value(row, "recovery_ratio")
    if ratio is None:
        return None
    closure = row.get("canopy_closure_period")
    closed = closure is not None and not pd.isna(closure) and str(closure) != ""
    when = pd.Timestamp(str(closure)).strftime("%B %Y") if closed else ""
    sentence = (f"The restoration zone is {ratio:.0%} as green as the intact reference site "
                f"(canopy greenness, NDVI); " + (
                    f"canopy closure ({CLOSURE_RATIO:.0%} of the reference) was reached in {when}."
                    if closed else
                    f"canopy closure ({CLOSURE_RATIO:.0%} of the reference) is not reached yet."))
    rows = [("Recovery against the reference site", f"{ratio:.0%}",
             f"canopy closure at {CLOSURE_RATIO:.0%}"),
            ("Canopy closure reached", when or "not yet", "")]
    return sentence, rows


def missing_text(site: Site, status: str, row: pd.Series | None, history: pd.DataFrame,
                 month: dt.date, seen: tuple[str, str],
                 seen_min: float = SEEN_MIN) -> tuple[str, list]:
    """Headline and details of a month without a reliable figure, and the last reliable one."""
    if status == "no_data":
        headline, details = f"No results for {site.name} this month yet.", []
    else:
        headline = f"Too few clear satellite views of {site.name} this month to give a figure."
        details = [f"Satellites saw {seen[0]} of the site clear of cloud ({seen[1]}); at least "
                   f"{seen_min:.0%} is needed for a monthly figure."]
    earlier = [r for _, r in history.iterrows() if r["period"] < month and month_status(r, seen_min) == "ok"]
    if earlier:
        last = earlier[-1]
        details.append(f"The last reliable figure, for {last['period']:%B %Y}, was "
                       f"{ha(last['extent_ha'])} ({_change_words(last['net_change_ha'])} since "
                       f"the {_baseline_label(site)} baseline).")
    return headline, details


def alerts_text(alerts: pd.DataFrame | None, month: dt.date) -> tuple[str, list] | None:
    """Loss alerts of the month: confirmed in it, and candidates still under watch at its end
    (seen in it, not confirmed); None when there are none."""
    if alerts is None or alerts.empty:
        return None
    start = pd.Timestamp(month, tz="UTC")
    end = start + pd.offsets.MonthBegin(1)
    confirmed = alerts[(alerts["confirmed_at"] >= start) & (alerts["confirmed_at"] < end)]
    watched = alerts[(alerts["status"] == "candidate") & (alerts["last_seen"] >= start)
                     & (alerts["first_seen"] < end)]
    if confirmed.empty and watched.empty:
        return None
    parts = []
    if len(confirmed):
        parts.append(f"{len(confirmed)} loss alert{'s' * (len(confirmed) != 1)} confirmed this "
                     f"month, covering {ha(confirmed['confirmed_ha'].sum())}")
    if len(watched):
        parts.append(f"{len(watched)} possible loss{'es' * (len(watched) != 1)} under watch "
                     f"({ha(watched['area_ha'].sum())}), not yet confirmed by enough clear views")
    rows = [("Loss alerts confirmed this month", str(len(confirmed)),
             ha(confirmed["confirmed_ha"].sum()) if len(confirmed) else ""),
            ("Possible losses under watch", str(len(watched)),
             ha(watched["area_ha"].sum()) if len(watched) else "")]
    return "; ".join(parts) + ".", rows


MAP_BASED_NOTE = ("The likely ranges are map-based: they cover pixels whose class is uncertain. "
                  "They are not confidence intervals from reference data; no accuracy "
                  "assessment was made for this month.")
"""Said where a month has no accuracy assessment (issue 18), so map-based ranges are not
taken for sample-based intervals."""


def _pct(value) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * value:.1f} %"


def accuracy_section(rows: pd.DataFrame | None, site: Site) -> AccuracySection | None:
    """The month's accuracy assessment (rows of the ``accuracy`` table for one site and
    month) as the summary shows it; None when there is none. Error-adjusted areas with 95 %
    confidence intervals from a stratified random sample (Olofsson et al. 2014, Remote Sens.
    Environ. 148:42-57)."""
    if rows is None or rows.empty:
        return None
    by = rows.set_index("class")
    if "extent" not in by.index or pd.isna(by.loc["extent", "estimated_area_ha"]):
        return None
    first = rows.iloc[0]
    n = int(first["sample_size"]) if not pd.isna(first["sample_size"]) else int(
        rows.loc[rows["class"] != "extent", "n_samples"].sum())
    how = ("labelled in the field or by photo-interpretation" if first["method"] == "labels"
           else f"labelled from reference maps ({first['source']})")
    day = pd.Timestamp(first["assessed_on"])
    when = f"{day.day} {day:%B %Y}"
    caption = (f"Assessed with {n} reference points, {how}, on {when}: error-adjusted areas "
               "with 95 % confidence intervals from a stratified random sample (Olofsson et al. "
               "2014). The likely ranges above are map-based.")
    table = []
    habitat = HABITAT_LABEL.get(site.habitat, site.habitat.capitalize())
    for cls, label in (("extent", f"{habitat} extent"), ("gain", "Gain since baseline"),
                       ("loss", "Loss since baseline")):
        if cls not in by.index or pd.isna(by.loc[cls, "estimated_area_ha"]):
            continue
        r = by.loc[cls]
        table.append((label, ha(r["estimated_area_ha"]), _range(r["ci_low_ha"], r["ci_high_ha"]),
                      _pct(r["users_accuracy"]), _pct(r["producers_accuracy"])))
    four = by["overall_accuracy"].get("stable_other")
    overall, se = ((four, by["overall_accuracy_se"].get("stable_other"))
                   if four is not None and not pd.isna(four)
                   else (by.loc["extent", "overall_accuracy"],
                         by.loc["extent", "overall_accuracy_se"]))
    label = "Overall accuracy" + ("" if four is not None and not pd.isna(four)
                                  else " (habitat / not habitat)")
    spread = "" if pd.isna(se) else f"± {_pct(1.96 * se)}"
    table.append((label, _pct(overall), spread, "", ""))
    e = by.loc["extent"]
    summary = (f"Accuracy assessment ({n} reference points, {when}): {habitat.lower()} extent "
               f"{ha(e['estimated_area_ha'])} (95 % confidence interval "
               f"{_range(e['ci_low_ha'], e['ci_high_ha'])}), overall accuracy {_pct(overall)}.")
    changed = first.get("map_changed")
    note = ("The change map was recomputed after the sample was drawn; these figures describe "
            "the earlier map." if changed is not None and not pd.isna(changed) and bool(changed)
            else "")
    return AccuracySection(caption, tuple(table), summary, note)
