"""``bluecarbon accuracy design``: a stratified random sample of a month's change map.

The strata are the map's classes (``stable_other, stable_habitat, gain, loss``); the size,
the allocation and the draw are :func:`indices.sampling.draw_sample` (Olofsson et al. 2014,
Remote Sens. Environ. 148:42-57: eq. 13 for the size, a floor for the rare strata and the
rest proportional to area). The sample goes to ``<out>/accuracy/<site>/<YYYY-MM>/``
(:func:`flows.accuracy.folder.write_design`). An existing design is never replaced
silently: a field team may be labelling it; ``replace=True`` draws a new one.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from flows.accuracy.folder import AccuracyError, design_dir, load_design, write_design
from flows.accuracy.inputs import find_site, read_change_map
from indices.sampling import Design, draw_sample

__all__ = ["DesignWritten", "make_design"]

MAX_SEED = 2**31
"""Seeds are drawn from [0, 2**31) and recorded in ``design.json``."""


@dataclass(frozen=True)
class DesignWritten:
    design: Design
    paths: list[Path]
    unchanged: bool = False
    """The folder already held this very design (same map, seed and size): nothing rewritten."""
    kept: str | None = None
    """Suffix the replaced design's files were kept under (``samples.csv.<kept>`` ...)."""

    def lines(self) -> list[str]:
        """What the command prints: size, strata, floor, seed, where the files are."""
        d = self.design
        size = (f"the size for a standard error of {d.target_se:g} of overall accuracy"
                if d.target_se is not None else "the size asked")
        rows = [f"{d.site_id} {d.period}: {d.n} sample points ({size}), seed {d.seed}",
                f"  {'stratum':<16}{'pixels':>10}{'map ha':>11}{'weight':>9}{'points':>8}"]
        rows += [f"  {s.name:<16}{s.pixels:>10,}{s.area_ha:>11,.1f}{s.weight:>9.3f}{s.n:>8}"
                 for s in d.strata]
        rows.append(f"  floor for the rare strata: {d.floor_applied} points"
                    + (f" (asked {d.floor}: the total allows no more)"
                       if d.floor_applied < d.floor else ""))
        folder = self.paths[0].parent
        names = ", ".join(p.name for p in self.paths)
        rows.append(f"{'unchanged' if self.unchanged else 'written'}: {folder}/ ({names})")
        if self.kept:
            rows.append(f"the replaced design's files were kept as <name>.{self.kept}")
        rows.append("next: fill in reference_class (one of stable_other, stable_habitat, gain, "
                    f"loss) in samples.csv or samples.geojson, then run `bluecarbon accuracy "
                    f"assess --labels {folder / 'samples.csv'}`")
        return rows


def make_design(out: str | Path, site_id: str, period: str, *, n: int | None = None,
                seed: int | None = None, floor: int = 50, sites: str | Path | None = None,
                replace: bool = False) -> DesignWritten:
    """Draw the design of ``site_id``'s change map of ``period`` and write its files.

    ``n``: total sample size (default: :func:`indices.sampling.sample_size` for a standard
    error of 0.01 of overall accuracy); ``seed``: the draw's seed (default: a random one,
    recorded); ``floor``: points per rare stratum. :class:`AccuracyError` (one line, nothing
    written) for a missing map, an unknown site, a bad period or size, or a design already
    in place that differs (unless ``replace``).
    """
    if n is not None and n < 2:
        raise AccuracyError(f"--n must be at least 2 sample points, got {n}")
    if seed is not None and not 0 <= seed < 2**63:
        raise AccuracyError(f"--seed must be a non-negative integer below 2**63, got {seed}")
    if floor < 2:
        raise AccuracyError(f"--floor must be at least 2 points, got {floor}")
    site = find_site(out, site_id, sites)
    change = read_change_map(out, site, period)
    seed = secrets.randbelow(MAX_SEED) if seed is None else int(seed)
    try:
        design = draw_sample(change.codes, transform=change.transform, crs=change.crs,
                             site=change.mask, site_id=site.id, period=change.period, seed=seed,
                             n=n, floor=floor)
    except ValueError as exc:
        raise AccuracyError(f"{site.id} {change.period}: {exc}") from None
    folder = design_dir(out, site.id, change.period)
    if (folder / "design.json").is_file():
        try:
            old = load_design(out, site.id, change.period)
        except AccuracyError:
            old = None  # unreadable: replaced only when asked, like any other
        same = old is not None and json.dumps(old.to_dict(), sort_keys=True) == json.dumps(
            design.to_dict(), sort_keys=True)
        if same and all((folder / name).is_file() for name in ("samples.csv", "samples.geojson")):
            return DesignWritten(design, [folder / n for n in
                                          ("samples.geojson", "samples.csv", "design.json")],
                                 unchanged=True)
        if not same and not replace:
            held = f"seed {old.seed}, {old.n} points" if old is not None else "unreadable"
            raise AccuracyError(f"{folder} already holds a design of {site.id} {change.period} "
                                f"({held}); its points may be being labelled. Pass --replace "
                                "to draw a new one (labels of the old one will no longer fit)")
    kept = None
    if (folder / "design.json").is_file() or (folder / "samples.csv").is_file():
        kept = f"replaced-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    return DesignWritten(design, write_design(out, design, keep_old=kept), kept=kept)
