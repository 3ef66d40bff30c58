"""Independent test scenarios: Sentinel-2 L2A scenes of mangrove and seagrass sites written
as static STAC catalogs, with their truth, from published spectra and water optics.

Written without reading the project's classifier (``indices/habitat.py``) or its demo
simulator (``flows/sources/demo.py``): the point is that their authors did not tune to it.

    from scenarios import make_scenario
    sc = make_scenario(7, kind="seagrass", size=300, n_months=24, out_dir=tmp_path)
    sc.catalog, sc.sites        # bluecarbon run --source stac --catalog ... --sites ...
    sc.truth                    # one row per month: extent, baseline, gain, loss (ha)

Modules: :mod:`.tables` (published tables), :mod:`.spectra` (land classes), :mod:`.water`
(water optics), :mod:`.landscape` (shapes and planted change), :mod:`.render` (one scene),
:mod:`.truth`, :mod:`.catalog` (COGs + STAC + sites file), :mod:`.scenario`
(``make_scenario``), :mod:`.run_scenario` (bluecarbon against the truth).
"""

from .scenario import LOCATIONS, Scenario, make_scenario

__all__ = ["LOCATIONS", "Scenario", "make_scenario"]
