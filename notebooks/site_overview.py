# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Site overview: habitat extent and change over time
#
# For one site: how much mangrove or seagrass it holds each month and the likely range of that
# figure, what was gained and lost since the baseline, how well each month was actually seen,
# and where the site is.
#
# The notebook reads only what `bluecarbon run` wrote (the `change` and `observations` tables
# and the class and change maps, see `docs/design.md`, "Parquet outputs" and "Maps") and, for
# the site boundary, the sites file. It writes nothing.
#
# **Parameters** (the next cell; papermill can inject them, or set environment variables):
#
# * `RESULTS`: the results folder (`bluecarbon run --out`), or `BLUECARBON_RESULTS`;
# * `SITE_ID`: the site to show, or `BLUECARBON_SITE`; default: the first site in the results;
# * `SITES`: the sites file or folder, for the boundary on the maps, or `BLUECARBON_SITES`;
#   default: the sites file the runs read (their run records), else the bundled sites.
#
# `bluecarbon notebooks --out RESULTS` opens this folder in JupyterLab with `RESULTS` set.

# %% tags=["parameters"]
import os

RESULTS = os.environ.get("BLUECARBON_RESULTS", "results")
SITE_ID = os.environ.get("BLUECARBON_SITE") or None
SITES = os.environ.get("BLUECARBON_SITES") or None

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from pyproj import Transformer
from shapely.geometry import shape

from flows.results.read import (
    SEEN_MIN,
    read_map,
    read_table,
    results_path,
    site_features,
    site_maps,
)

# SEEN_MIN: below this fraction of the site seen clear, a month is mostly gap-filled (the
# partner summaries' threshold)

change = read_table(RESULTS, "change")
observations = read_table(RESULTS, "observations")
if change.empty:
    raise ValueError(f"{RESULTS}: the change table has no rows; run `bluecarbon run` first")
available = sorted(change["site_id"].unique())
site_id = SITE_ID or available[0]
if site_id not in available:
    raise ValueError(f"site {site_id!r} has no results in {RESULTS}; "
                     f"sites there: {', '.join(available)}")

monthly = change[change["site_id"] == site_id].copy()
monthly["period"] = pd.to_datetime(monthly["period"])
monthly = monthly.sort_values("period").reset_index(drop=True)
scenes = observations[observations["site_id"] == site_id].sort_values("datetime")
habitat = monthly["habitat"].iloc[0]
baseline = float(monthly["baseline_extent_ha"].iloc[0])
print(f"{site_id}: {habitat}, {len(monthly)} months "
      f"({monthly['period'].min():%Y-%m} to {monthly['period'].max():%Y-%m}), "
      f"{len(scenes)} scenes")

# %% [markdown]
# ## At a glance
#
# The latest month against the baseline. *Likely range* is the interval of the extent
# estimate: pixels whose class lies close to its threshold could go either way. A month seen
# over less than 30 % of the site is mostly gap-filled from earlier observations.

# %%
latest = monthly.iloc[-1]
net_pct = 100 * latest["net_change_ha"] / baseline if baseline else np.nan
glance = pd.Series({
    "habitat": habitat,
    "baseline extent (ha)": f"{baseline:,.1f}",
    "latest month": f"{latest['period']:%Y-%m}",
    "extent (ha)": f"{latest['extent_ha']:,.1f}",
    "likely range (ha)": f"{latest['extent_ci_low_ha']:,.1f} – {latest['extent_ci_high_ha']:,.1f}",
    "net change since baseline (ha)": f"{latest['net_change_ha']:+,.2f} ({net_pct:+.1f} %)",
    "gained / lost since baseline (ha)": f"{latest['gain_ha']:,.2f} / {latest['loss_ha']:,.2f}",
    "site seen that month": f"{latest['valid_fraction']:.0%}",
    "months mostly gap-filled": f"{int((monthly['valid_fraction'] < SEEN_MIN).sum())} "
                                f"of {len(monthly)}",
    "scenes used": f"{int((scenes['valid_fraction'] > 0).sum())} of {len(scenes)}",
}, name=site_id)
glance.to_frame()

# %% [markdown]
# ## Extent over time, with its likely range

# %%
fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
ax.fill_between(monthly["period"], monthly["extent_ci_low_ha"], monthly["extent_ci_high_ha"],
                step="mid", alpha=0.25, color="C2", label="likely range")
ax.plot(monthly["period"], monthly["extent_ha"], marker="o", color="C2", label=f"{habitat} extent")
ax.axhline(baseline, ls="--", color="0.4", label="baseline")
gap = monthly["valid_fraction"] < SEEN_MIN
ax.scatter(monthly.loc[gap, "period"], monthly.loc[gap, "extent_ha"], s=60, zorder=3,
           facecolors="white", edgecolors="C3", label=f"< {SEEN_MIN:.0%} of site seen")
ax.set_ylabel("hectares")
ax.set_title(f"{site_id}: {habitat} extent by month")
ax.legend(loc="best", fontsize=8)
plt.show()

# %% [markdown]
# ## Defensible hectares: the accuracy assessment
#
# The likely range above is map-based: pixels whose class lies near its threshold. Where a
# month was assessed (`bluecarbon accuracy design`, then `bluecarbon accuracy assess`), the
# `accuracy` table holds the error-adjusted area of each class with its 95 % confidence
# interval, from a stratified random sample of reference labels (Olofsson et al. 2014), and
# the map's overall, user's and producer's accuracies. The two are different things: the
# table says which months have which.

# %%
from IPython.display import display

accuracy = read_table(RESULTS, "accuracy") if (results_path(RESULTS) / "accuracy").is_dir() \
    else pd.DataFrame(columns=["site_id"])
assessed = accuracy[accuracy["site_id"] == site_id].copy()
if assessed.empty:
    print(f"{site_id}: no accuracy assessment yet; every range shown is map-based "
          "(see `bluecarbon accuracy design --help`)")
else:
    assessed["period"] = pd.to_datetime(assessed["period"])
    by_class = assessed.pivot(index="period", columns="class")
    extent = by_class.xs("extent", axis=1, level="class")
    # the four classes' overall accuracy; an extent-only assessment has the two classes' one
    overall = by_class["overall_accuracy"]["stable_other"].fillna(extent["overall_accuracy"])

    def pct(v):
        return "" if pd.isna(v) else f"{100 * v:.1f} %"

    months = pd.DataFrame({
        "assessed": [f"with {int(n)} reference points on {d:%Y-%m-%d} ({m})" for n, d, m in
                     zip(extent["sample_size"], pd.to_datetime(extent["assessed_on"]),
                         extent["method"], strict=True)],
        "map extent (ha)": extent["map_area_ha"].map("{:,.1f}".format),
        "error-adjusted extent (ha)": extent["estimated_area_ha"].map("{:,.1f}".format),
        "95 % interval (ha)": [f"{lo:,.1f} – {hi:,.1f}" for lo, hi in
                               zip(extent["ci_low_ha"], extent["ci_high_ha"], strict=True)],
        "overall accuracy": overall.map(pct),
    })
    for cls in ("gain", "loss"):
        users = by_class["users_accuracy"][cls].map(pct)
        producers = by_class["producers_accuracy"][cls].map(pct)
        months[f"{cls}: user's / producer's"] = [f"{u} / {p}" if u else "" for u, p in
                                                 zip(users, producers, strict=True)]
    months.index = months.index.strftime("%Y-%m")
    display(months)

    fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
    ax.fill_between(monthly["period"], monthly["extent_ci_low_ha"], monthly["extent_ci_high_ha"],
                    step="mid", alpha=0.2, color="C2", label="likely range (map-based)")
    ax.plot(monthly["period"], monthly["extent_ha"], color="C2", lw=1, label="map extent")
    ax.errorbar(extent.index, extent["estimated_area_ha"],
                yerr=[extent["estimated_area_ha"] - extent["ci_low_ha"],
                      extent["ci_high_ha"] - extent["estimated_area_ha"]],
                fmt="s", color="k", capsize=4,
                label="error-adjusted, 95 % interval (reference sample)")
    ax.set_ylabel("hectares")
    ax.set_title(f"{site_id}: map extent and error-adjusted extent")
    ax.legend(loc="best", fontsize=8)
    plt.show()

# %% [markdown]
# ## Gain and loss since the baseline
#
# Cumulative since the baseline composite, after the minimum mapping unit: a patch of gain
# stays counted as long as it remains habitat.

# %%
fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
width = 20  # days
ax.bar(monthly["period"], monthly["gain_ha"], width=width, color="#90be6d", label="gain")
ax.bar(monthly["period"], -monthly["loss_ha"], width=width, color="#d62828", label="loss")
ax.plot(monthly["period"], monthly["net_change_ha"], color="0.2", marker=".", label="net")
ax.axhline(0, color="0.6", lw=0.8)
ax.set_ylabel("hectares since baseline")
ax.legend(loc="best", fontsize=8)
plt.show()

# %% [markdown]
# ## Scene by scene
#
# Habitat area measured in each scene, over the part of the site seen clear in it. Only
# scenes that saw most of the site are comparable with the monthly extent (line).

# %%
well_seen = scenes[scenes["valid_fraction"] >= 0.8]
fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
points = ax.scatter(well_seen["datetime"], well_seen["habitat_area_ha"], s=14,
                    c=well_seen["valid_fraction"], cmap="viridis", vmin=0.8, vmax=1.0)
ax.plot(monthly["period"] + pd.Timedelta(days=14), monthly["extent_ha"], color="C2", lw=1,
        label="monthly extent (mid-month)")
fig.colorbar(points, ax=ax, label="fraction of site seen")
ax.set_ylabel("hectares")
ax.set_title(f"{len(well_seen)} of {len(scenes)} scenes saw at least 80 % of the site")
ax.legend(loc="best", fontsize=8)
plt.show()

# %% [markdown]
# ## Habitat and change maps
#
# The class map (habitat or not) and the change map against the baseline (stable habitat,
# gain, loss) of the latest month, as the run wrote them (Cloud Optimized GeoTIFFs under
# `maps/<site>/` of the results folder; open them in QGIS too), with the site boundary.
# Axes are metres of the site's UTM zone.

# %%
maps = site_maps(RESULTS, site_id)
feature = site_features(SITES, results=RESULTS).get(site_id)
if feature is None:
    print(f"{site_id} is not in the sites file: maps without the boundary "
          "(set SITES / BLUECARBON_SITES)")


def boundary(crs):
    """The site polygon's rings in the map's CRS (an empty list without the sites file)."""
    if feature is None:
        return []
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    polygons = shape(feature["geometry"])
    polygons = getattr(polygons, "geoms", [polygons])
    return [np.column_stack(to_map.transform(*np.asarray(ring.coords).T))
            for p in polygons for ring in (p.exterior, *p.interiors)]


def draw(ax, site_map, title):
    """One map: its colours and legend from the file, the boundary on top."""
    codes = sorted(site_map.colours)
    index = np.ma.masked_array(np.searchsorted(codes, site_map.codes.filled(codes[0])),
                               mask=np.ma.getmaskarray(site_map.codes))
    ax.imshow(index, cmap=ListedColormap([site_map.colours[c] for c in codes]),
              vmin=-0.5, vmax=len(codes) - 0.5, extent=site_map.extent, interpolation="nearest")
    for ring in boundary(site_map.crs):
        ax.plot(ring[:, 0], ring[:, 1], color="0.1", lw=1.2)
    present = set(np.unique(site_map.codes.compressed()))
    ax.legend(handles=[Patch(fc=site_map.colours[c], ec="0.5", label=site_map.legend[c])
                       for c in codes if c in present], loc="upper left",
              bbox_to_anchor=(0, -0.08), ncols=2, fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)


if maps.empty:
    print(f"no maps of {site_id} in {RESULTS}: runs write them under maps/{site_id}/")
else:
    month = maps["period"].max()
    latest_maps = maps[maps["period"] == month].set_index("product")["path"]
    lon, lat = shape(feature["geometry"]).centroid.coords[0] if feature else (np.nan, np.nan)
    name = str(feature["properties"].get("name", site_id)) if feature else site_id
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained")
    for ax, product in zip(axes, ("class", "change"), strict=True):
        if product in latest_maps.index:
            draw(ax, read_map(latest_maps[product]), f"{product} map, {month:%Y-%m}")
        else:
            ax.set_axis_off()
    where = f" ({lat:.4f}°, {lon:.4f}°)" if feature else ""
    fig.suptitle(f"{name}{where}".replace("$", r"\$"), fontsize=11)  # no mathtext
    plt.show()

# %% [markdown]
# ## Change over time
#
# The change map at up to six months from the first to the latest: where gain and loss
# appeared and whether they lasted.

# %%
change_maps = maps[maps["product"] == "change"].reset_index(drop=True)
if len(change_maps):
    picks = sorted(set(np.linspace(0, len(change_maps) - 1, min(6, len(change_maps)))
                       .round().astype(int)))
    fig, axes = plt.subplots(1, len(picks), figsize=(3 * len(picks), 3.8), layout="constrained",
                             squeeze=False)
    for ax, k in zip(axes[0], picks, strict=True):
        site_map = read_map(change_maps.loc[k, "path"], max_px=400)
        draw(ax, site_map, f"{change_maps.loc[k, 'period']:%Y-%m}")
        if k != picks[-1]:  # one legend, under the latest
            ax.get_legend().remove()
        ax.set_xticks([])
        ax.set_yticks([])
    plt.show()
