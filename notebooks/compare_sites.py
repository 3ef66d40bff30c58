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
# # Compare sites
#
# Every site in a results folder side by side: where each stands against its own baseline,
# how that moved month by month, and where the sites are. Sites differ in size, so change is
# shown both in hectares and as a share of each site's baseline extent.
#
# The notebook reads only the Parquet results written by `bluecarbon run` (the `change` table,
# see `docs/design.md`, "Parquet outputs") and, for the map, the sites GeoJSON. It writes
# nothing.
#
# **Parameters** (the next cell; papermill can inject them, or set environment variables):
#
# * `RESULTS`: the results folder (`bluecarbon run --out`), or `BLUECARBON_RESULTS`;
# * `HABITAT`: `mangrove`, `seagrass`, or empty for both (`BLUECARBON_HABITAT`);
# * `SITES`: the sites file or folder for the map, or `BLUECARBON_SITES`; default: the sites
#   file the runs read (their run records), else the sites bundled with bluecarbon.

# %% tags=["parameters"]
import os

RESULTS = os.environ.get("BLUECARBON_RESULTS", "results")
HABITAT = os.environ.get("BLUECARBON_HABITAT") or None
SITES = os.environ.get("BLUECARBON_SITES") or None

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from flows.results.read import SEEN_MIN, read_table, site_features

# SEEN_MIN: below this fraction of the site seen clear, a month is mostly gap-filled (the
# partner summaries' threshold)

change = read_table(RESULTS, "change")
change["period"] = pd.to_datetime(change["period"])
if HABITAT:
    change = change[change["habitat"] == HABITAT]
if change.empty:
    raise ValueError(f"{RESULTS}: no change rows" + (f" for {HABITAT}" if HABITAT else ""))
change = change.sort_values(["site_id", "period"]).reset_index(drop=True)
base = change["baseline_extent_ha"].where(change["baseline_extent_ha"] > 0)
for col in ("extent_ha", "extent_ci_low_ha", "extent_ci_high_ha"):
    change[col.replace("_ha", "_pct")] = 100 * change[col] / base  # % of the site's baseline
print(f"{change['site_id'].nunique()} sites, "
      f"{change['period'].min():%Y-%m} to {change['period'].max():%Y-%m}")

# %% [markdown]
# ## Where each site stands (its latest month)
#
# *Net %* is the net change as a share of the site's baseline extent; the range comes from the
# extent's likely range. *Seen* is the fraction of the site observed clear that month.

# %%
latest = change.groupby("site_id").tail(1).set_index("site_id")
table = pd.DataFrame({
    "habitat": latest["habitat"],
    "month": latest["period"].dt.strftime("%Y-%m"),
    "baseline (ha)": latest["baseline_extent_ha"].round(1),
    "extent (ha)": latest["extent_ha"].round(1),
    "likely range (ha)": [f"{lo:,.1f} – {hi:,.1f}" for lo, hi in
                          zip(latest["extent_ci_low_ha"], latest["extent_ci_high_ha"],
                              strict=True)],
    "gain (ha)": latest["gain_ha"].round(2),
    "loss (ha)": latest["loss_ha"].round(2),
    "net (ha)": latest["net_change_ha"].round(2),
    "net %": (latest["extent_pct"] - 100).round(1),
    "seen": latest["valid_fraction"].map("{:.0%}".format),
}).sort_values("net %")
table

# %% [markdown]
# ## Extent relative to each site's baseline
#
# 100 % is the baseline. Shaded: the likely range. Hollow markers: months seen over less than
# 30 % of the site (mostly gap-filled).

# %%
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
for i, (site_id, rows) in enumerate(change.groupby("site_id")):
    color = f"C{i % 10}"
    ax.fill_between(rows["period"], rows["extent_ci_low_pct"], rows["extent_ci_high_pct"],
                    color=color, alpha=0.15, step="mid")
    ax.plot(rows["period"], rows["extent_pct"], marker="o", ms=3, color=color, label=site_id)
    gap = rows["valid_fraction"] < SEEN_MIN
    ax.scatter(rows.loc[gap, "period"], rows.loc[gap, "extent_pct"], s=40, zorder=3,
               facecolors="white", edgecolors=color)
ax.axhline(100, ls="--", color="0.4")
ax.set_ylabel("extent, % of baseline")
ax.legend(loc="best", fontsize=8)
plt.show()

# %% [markdown]
# ## Net change of the latest month, with its likely range

# %%
order = table.index
net_pct = latest.loc[order, "extent_pct"] - 100
low = net_pct - (latest.loc[order, "extent_ci_low_pct"] - 100)
high = (latest.loc[order, "extent_ci_high_pct"] - 100) - net_pct
fig, ax = plt.subplots(figsize=(8, 0.5 + 0.5 * len(order)), layout="constrained")
colors = ["#d62828" if v < 0 else "#90be6d" for v in net_pct]
ax.barh(order, net_pct, xerr=[low.clip(lower=0), high.clip(lower=0)], color=colors,
        ecolor="0.3", capsize=3)
ax.axvline(0, color="0.4", lw=0.8)
ax.set_xlabel("net change since baseline, % of baseline extent")
plt.show()

# %% [markdown]
# ## Map of the sites
#
# Each site at the centre of its boundary (from the sites file), coloured by its net change in
# % of baseline; circles are mangrove sites, triangles seagrass.

# %%
features = site_features(SITES, results=RESULTS)
rows = []
for site_id, row in latest.iterrows():
    feature = features.get(site_id)
    if feature is None:
        continue
    geometry = feature["geometry"]
    polygons = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                else [geometry["coordinates"]])
    outer = np.concatenate([np.asarray(p[0]) for p in polygons])
    rows.append((site_id, row["habitat"], *outer.mean(axis=0), row["extent_pct"] - 100))
if not rows:
    print("none of these sites is in the sites file: no map (set SITES / BLUECARBON_SITES)")
else:
    where = pd.DataFrame(rows, columns=["site_id", "habitat", "lon", "lat", "net_pct"])
    limit = max(1.0, float(where["net_pct"].abs().max()))
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for habitat, marker in (("mangrove", "o"), ("seagrass", "^")):
        sel = where[where["habitat"] == habitat]
        points = ax.scatter(sel["lon"], sel["lat"], c=sel["net_pct"], cmap="RdYlGn",
                            vmin=-limit, vmax=limit, s=90, marker=marker, edgecolors="0.2",
                            label=habitat)
    for _, r in where.iterrows():
        ax.annotate(r["site_id"], (r["lon"], r["lat"]), xytext=(5, 5),
                    textcoords="offset points", fontsize=7)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-60, 75)
    ax.set_aspect("equal")
    ax.grid(True, lw=0.3)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    fig.colorbar(points, ax=ax, label="net change, % of baseline", shrink=0.8)
    ax.legend(loc="lower left", fontsize=8)
    plt.show()
