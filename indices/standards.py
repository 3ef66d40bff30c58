"""Which number serves which standard: the evidence pack's map from tables to criteria.

Each :class:`Evidence` names a criterion or indicator of a standard, the numbers of the results
folder that serve it (``table.column``), a plain-language sentence template for the annual pack
(``str.format`` fields named after the numbers), the sites it applies to, and its citation.
Criterion wording was checked against the standards' own pages where noted in ``checked``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Evidence", "STANDARD_EVIDENCE", "evidence_for"]

_NBS = ("IUCN (2020). IUCN Global Standard for Nature-based Solutions, first edition. Gland: "
        "IUCN. doi:10.2305/IUCN.CH.2020.08.en")
_GREEN_LIST = ("IUCN and WCPA (2017). IUCN Green List of Protected and Conserved Areas: "
               "Standard, Version 1.1. Gland: IUCN")
_GBF = ("CBD (2022). Monitoring framework for the Kunming-Montreal Global Biodiversity "
        "Framework, decision CBD/COP/DEC/15/5, annex I")
_SEEA = ("United Nations et al. (2021). System of Environmental-Economic Accounting - "
         "Ecosystem Accounting (SEEA EA), ecosystem extent account")
_VM0033 = ("Verra (2023). VM0033 Methodology for Tidal Wetland and Seagrass Restoration, v2.1, "
           "sec. 8.5.2 (uncertainty deduction)")
_IPCC = ("IPCC (2014). 2013 Supplement to the 2006 IPCC Guidelines for National Greenhouse Gas "
         "Inventories: Wetlands, ch. 4 (coastal wetlands), Tier 1")


@dataclass(frozen=True)
class Evidence:
    """One criterion or indicator and the numbers that serve it."""

    standard: str
    item: str
    """Criterion / indicator identifier, as the standard numbers it."""
    title: str
    """Its wording (abridged)."""
    serves: tuple[str, ...]
    """``table.column`` of the results that serve it."""
    sentence: str
    """Plain-language template for the annual pack (``str.format`` fields)."""
    citation: str
    habitats: tuple[str, ...] = ("mangrove", "seagrass")
    protected_area_only: bool = False
    """Only for sites with a ``protected_area`` property (the Green List is for protected and
    conserved areas)."""
    checked: str = ""
    """Where the wording was checked."""


STANDARD_EVIDENCE: tuple[Evidence, ...] = (
    Evidence(
        "IUCN Global Standard for NbS", "3.1",
        "The state of the ecosystems and the drivers of ecosystem degradation and biodiversity "
        "loss are identified, assessed and documented (a baseline against which progress is "
        "measured, Criterion 7)",
        ("change.baseline_extent_ha", "accounts.opening_ha", "carbon.stock_tco2e",
         "accounts.n_patches"),
        "Baseline: {site} held {baseline_ha:.1f} ha of {habitat} in its baseline period "
        "({baseline_start} to {baseline_end}), storing about {baseline_stock_t:,.0f} t CO2e "
        "({baseline_stock_low_t:,.0f}-{baseline_stock_high_t:,.0f}).",
        _NBS, checked="inbs.iucn.org/understand/8-criteria/criterion-3/"),
    Evidence(
        "IUCN Global Standard for NbS", "7.2",
        "The validity of the assumptions is periodically tested through monitoring and "
        "evaluation as part of an ongoing learning process (Criterion 7: NbS are managed "
        "adaptively, based on evidence)",
        ("change.extent_ha", "change.gain_ha", "change.loss_ha", "accounts.net_change_ha",
         "carbon.change_tco2e"),
        "Monitoring: in {year}, {site} gained {additions_ha:.1f} ha and lost "
        "{reductions_ha:.1f} ha of {habitat}, from Sentinel-2 images checked every month.",
        _NBS, checked="inbs.iucn.org/understand/8-criteria/criterion-7/"),
    Evidence(
        "IUCN Green List", "Component 4: Successful conservation outcomes",
        "Achievement of the area's conservation goals and objectives (the component the three "
        "baseline components - governance, design and planning, management - support)",
        ("accounts.closing_ha", "accounts.net_change_ha", "accounts.edge_density_m_per_ha",
         "carbon.stock_tco2e"),
        "Conservation outcome: the {habitat} of {protected_area} covered {closing_ha:.1f} ha "
        "at the end of {year} ({net_change_ha:+.1f} ha in the year).",
        _GREEN_LIST, protected_area_only=True,
        checked="iucngreenlist.org/standard/global-standard/ (4 components, 17 criteria)"),
    Evidence(
        "Kunming-Montreal GBF", "Headline indicator A.2",
        "Extent of natural ecosystems",
        ("accounts.closing_ha", "accounts.opening_ha"),
        "Extent of natural ecosystems (GBF A.2): {extent_ha:.1f} ha at the end of {year}, "
        "{change_pct:+.1f} % since the baseline.",
        _GBF, checked="dart.informea.org (GBF Goal A headline indicators)"),
    Evidence(
        "Kunming-Montreal GBF", "Complementary: trends in mangrove extent",
        "Trends in mangrove extent",
        ("accounts.closing_ha", "accounts.net_change_ha"),
        "Mangrove extent trend: {slope_ha_per_yr:+.2f} ha a year since {first_year}.",
        _GBF, habitats=("mangrove",), checked="dart.informea.org (complementary indicators)"),
    Evidence(
        "Kunming-Montreal GBF", "Complementary: trends in mangrove forest fragmentation",
        "Trends in mangrove forest fragmentation",
        ("accounts.n_patches", "accounts.mean_patch_ha", "accounts.edge_density_m_per_ha"),
        "Fragmentation: {n_patches} of mangrove averaging {mean_patch_ha:.1f} ha, "
        "{edge_density_m_per_ha:.0f} m of edge per hectare.",
        _GBF, habitats=("mangrove",), checked="dart.informea.org (complementary indicators)"),
    Evidence(
        "Kunming-Montreal GBF", "Complementary: global seagrass extent",
        "Global seagrass extent (seagrass cover and composition)",
        ("accounts.closing_ha", "change.assessable_fraction"),
        "Seagrass extent: {extent_ha:.1f} ha at the end of {year}.",
        _GBF, habitats=("seagrass",), checked="dart.informea.org (complementary indicators)"),
    Evidence(
        "SEEA Ecosystem Accounting", "Ecosystem extent account",
        "Opening extent, additions, reductions, net change, closing extent per ecosystem type",
        ("accounts.opening_ha", "accounts.additions_ha", "accounts.reductions_ha",
         "accounts.net_change_ha", "accounts.closing_ha"),
        "Extent account {year}: opening {opening_ha:.1f} ha + additions {additions_ha:.1f} ha "
        "- reductions {reductions_ha:.1f} ha = closing {closing_ha:.1f} ha.",
        _SEEA),
    Evidence(
        "Carbon (IPCC Tier 1 / Verra VM0033)", "Stock and change with uncertainty",
        "Carbon stock and change since the baseline, with the conservative figure a carbon "
        "standard would credit (deduction when the 90 % interval's half-width exceeds 20 % "
        "of the change)",
        ("carbon.stock_tco2e", "carbon.change_tco2e", "carbon.change_ci_low_tco2e",
         "carbon.change_ci_high_tco2e", "carbon.change_conservative_tco2e"),
        "Carbon: {change_t:+,.0f} t CO2e since the baseline (95 % interval "
        "{change_low_t:+,.0f} to {change_high_t:+,.0f}); a carbon standard would count "
        "{conservative_t:+,.0f} t CO2e. These are estimates (from the factors listed with "
        "the pack), not certified credits.",
        f"{_IPCC}; {_VM0033}"),
)
"""The evidence pack's sections, in the order it presents them."""


def evidence_for(habitat: str, *, protected_area: bool) -> tuple[Evidence, ...]:
    """The entries that apply to a site of ``habitat`` (with or without a protected area)."""
    return tuple(e for e in STANDARD_EVIDENCE
                 if habitat in e.habitats and (protected_area or not e.protected_area_only))
