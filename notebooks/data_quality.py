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
# # Data quality: observations, clouds, how much of each site was seen
#
# Before reading a change figure, check what it stands on: how many Sentinel-2 scenes each
# site had, how cloudy they were, and which months were seen well enough to be trusted rather
# than gap-filled from earlier months.
#
# The notebook reads only the Parquet results written by `bluecarbon run` (the `observations`
# and `change` tables, see `docs/design.md`, "Parquet outputs"). It writes nothing.
#
# **Parameters** (the next cell; papermill can inject them, or set environment variables):
#
# * `RESULTS`: the results folder (`bluecarbon run --out`), or `BLUECARBON_RESULTS`;
# * `SEEN_MIN`: the fraction of a site that must be seen clear for a month to count as
#   observed (`BLUECARBON_SEEN_MIN`; default: the threshold of the partner summaries,
#   `flows.config.SEEN_MIN`).

# %% tags=["parameters"]
import os

from flows.results.read import SEEN_MIN

RESULTS = os.environ.get("BLUECARBON_RESULTS", "results")
SEEN_MIN = float(os.environ.get("BLUECARBON_SEEN_MIN", SEEN_MIN))

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from flows.results.read import read_table

observations = read_table(RESULTS, "observations")
change = read_table(RESULTS, "change")
if observations.empty:
    raise ValueError(f"{RESULTS}: the observations table has no rows; run `bluecarbon run`")
observations["month"] = (observations["datetime"].dt.tz_convert("UTC").dt.tz_localize(None)
                         .dt.to_period("M").dt.to_timestamp())
observations["usable"] = observations["valid_fraction"] > 0
change["period"] = pd.to_datetime(change["period"])
sites = sorted(observations["site_id"].unique())
print(f"{len(observations)} scenes over {len(sites)} sites, "
      f"{observations['datetime'].min():%Y-%m-%d} to {observations['datetime'].max():%Y-%m-%d}")

# %% [markdown]
# ## Per site
#
# *Usable*: scenes in which any part of the site was seen clear. *Months gap-filled*: months
# seen over less than `SEEN_MIN` of the site, whose extent mostly repeats earlier months.

# %%
per_site = observations.groupby("site_id").agg(
    scenes=("scene_id", "size"),
    usable=("usable", "sum"),
    median_cloud=("cloud_fraction", "median"),
    median_seen=("valid_fraction", "median"),
    sources=("source", lambda s: ", ".join(sorted(s.dropna().unique()))),
    processing_versions=("processing_version", lambda s: ", ".join(sorted(s.dropna().unique()))),
)
months = change.groupby("site_id").agg(
    months=("period", "size"),
    months_gap_filled=("valid_fraction", lambda v: int((v < SEEN_MIN).sum())),
    months_without_scene=("n_observations", lambda n: int((n == 0).sum())),
)
summary = per_site.join(months)
summary["median_cloud"] = summary["median_cloud"].map("{:.0%}".format)
summary["median_seen"] = summary["median_seen"].map("{:.0%}".format)
summary

# %% [markdown]
# ## How much of each site was seen, month by month
#
# The fraction of the site observed clear in the month (colour) and the number of usable scenes
# (the figure in each cell). Pale cells are months whose extent is mostly gap-filled.

# %%
seen = change.pivot_table(index="site_id", columns="period", values="valid_fraction")
counts = change.pivot_table(index="site_id", columns="period", values="n_observations")
fig, ax = plt.subplots(figsize=(max(6, 0.45 * seen.shape[1] + 3), 0.7 * len(seen) + 1.5),
                       layout="constrained")
image = ax.imshow(seen.to_numpy(float), aspect="auto", cmap="Blues", vmin=0, vmax=1)
for (i, j), n in np.ndenumerate(counts.to_numpy(float)):
    if np.isfinite(n):
        ax.text(j, i, f"{int(n)}", ha="center", va="center", fontsize=7,
                color="white" if seen.iloc[i, j] > 0.6 else "0.2")
ax.set_yticks(range(len(seen)), seen.index)
ax.set_xticks(range(seen.shape[1]), [f"{p:%Y-%m}" for p in seen.columns], rotation=90,
              fontsize=7)
fig.colorbar(image, ax=ax, label="fraction of site seen clear")
plt.show()

# %% [markdown]
# ## Clouds
#
# Cloud fraction (cloud, cirrus and shadow in the scene classification) over each site, scene
# by scene, and its distribution.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained",
                                  gridspec_kw={"width_ratios": [2.2, 1]})
for i, site_id in enumerate(sites):
    rows = observations[observations["site_id"] == site_id]
    left.scatter(rows["datetime"], rows["cloud_fraction"], s=8, color=f"C{i % 10}",
                 label=site_id)
    right.hist(rows["cloud_fraction"].dropna(), bins=np.linspace(0, 1, 21),
               histtype="step", color=f"C{i % 10}", lw=1.5)
left.set_ylabel("cloud fraction")
left.legend(loc="upper left", fontsize=7, markerscale=2)
right.set_xlabel("cloud fraction")
right.set_ylabel("scenes")
plt.show()

# %% [markdown]
# ## Seen clear, scene by scene
#
# Each scene's valid fraction (the part of the site with a clear view). A scene can be
# cloud-free and still have a low valid fraction: swath edges and no-data also count.

# %%
fig, ax = plt.subplots(figsize=(11, 3.5), layout="constrained")
for i, site_id in enumerate(sites):
    rows = observations[observations["site_id"] == site_id]
    ax.plot(rows["datetime"], rows["valid_fraction"], ".", ms=4, color=f"C{i % 10}",
            label=site_id)
ax.axhline(SEEN_MIN, ls="--", color="0.4", lw=0.8)
ax.set_ylim(-0.02, 1.02)
ax.set_ylabel("valid fraction")
ax.legend(loc="lower left", fontsize=7, markerscale=2)
plt.show()

# %% [markdown]
# ## Months to read with care
#
# Months seen over less than `SEEN_MIN` of the site, or without any usable scene.

# %%
flagged = change[(change["valid_fraction"] < SEEN_MIN) | (change["n_observations"] == 0)]
flagged = flagged.assign(month=flagged["period"].dt.strftime("%Y-%m"),
                         seen=flagged["valid_fraction"].map("{:.0%}".format))
print(f"{len(flagged)} of {len(change)} site-months flagged")
flagged[["site_id", "month", "n_observations", "seen", "extent_ha"]].reset_index(drop=True)
