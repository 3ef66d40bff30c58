"""The README's "Monitor your own site", followed as it is written (issue 21).

The polygon and its properties are the README's GeoJSON block; the same polygon is written
as a QGIS user would save it (a GeoPackage in the site's UTM zone), as a zipped shapefile and
as a Google Earth KML whose description is the README's text block. Each gives the same site.
The README's commands then run as they are, in an empty folder, through the real command
line (Prefect's temporary API, the demo source: offline): validate, run, report. The
notebooks line is parsed and its results folder checked (JupyterLab is an extra), the real
source's line and the TOML example are parsed and checked (no network). Any change to the
README's example that breaks it breaks this test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import shape
from vector_files import kml_text, shapefile_parts, to_crs, write_ogr, zip_files

from aoi import load_sites

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
UTM_37S = "EPSG:32737"  # the site's UTM zone (Gazi Bay, Kenya: 39.5 E, 4.4 S)


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[list[str]]:
    """The ``bluecarbon`` command lines of a shell block, comments dropped."""
    lines = [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]
    found = [words for words in lines if words]
    assert found and all(words[0] == "bluecarbon" for words in found), block
    return found


def bluecarbon(words: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A README line as the user types it: the ``bluecarbon`` entry point is ``flows.cli:main``."""
    return subprocess.run([sys.executable, "-m", "flows.cli", *words[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def own_site(tmp_path):
    """The README's site in the three formats the README names, in an empty folder."""
    text = section("Monitor your own site")
    feature = json.loads(blocks(text, "json")[0])["features"][0]
    props, polygon = feature["properties"], shape(feature["geometry"])
    description = blocks(text, "text")[0]
    validate = commands(blocks(text, "bash")[0])[0]
    names = re.findall(r"\b[\w-]+\.(?:gpkg|zip|kml)\b", blocks(text, "bash")[0].splitlines()[0])
    assert [Path(n).suffix for n in names] == [".gpkg", ".zip", ".kml"], names
    work = tmp_path / "work"
    work.mkdir()
    gpkg, zipped, kml = (work / n for n in names)
    write_ogr(gpkg, [(props, to_crs(polygon, UTM_37S))], driver="GPKG", crs=UTM_37S)
    parts = tmp_path / "shapefile"
    parts.mkdir()
    shp = write_ogr(parts / f"{zipped.stem}.shp", [(props, polygon)], driver="ESRI Shapefile")
    zip_files(zipped, shapefile_parts(shp))
    kml.write_text(kml_text([(props["name"], description, {}, polygon)]), encoding="utf-8")
    return {"work": work, "files": [gpkg, zipped, kml], "props": props, "polygon": polygon,
            "validate": validate, "text": text}


def test_the_three_files_give_the_same_site(own_site):
    sites = [load_sites(path) for path in own_site["files"]]
    assert all(len(s) == 1 for s in sites)
    reference = sites[0][0]
    props = own_site["props"]
    assert (reference.id, reference.name, reference.habitat, str(reference.baseline_start),
            str(reference.baseline_end), reference.partner) == (
        props["id"], props["name"], props["habitat"], props["baseline_start"],
        props["baseline_end"], props["partner"])
    assert reference.geometry.equals_exact(own_site["polygon"], 1e-8)  # back from UTM
    def fields(site):
        return (site.id, site.name, site.habitat, site.baseline_start, site.baseline_end,
                site.partner, site.country, site.notes)

    for (site,), path in zip(sites[1:], own_site["files"][1:], strict=True):
        assert fields(site) == fields(reference), path.name
        assert site.geometry.equals_exact(reference.geometry, 1e-8), path.name


@pytest.mark.slow
def test_the_readme_example_runs_as_written(own_site, tmp_path):
    work, text = own_site["work"], own_site["text"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    lines = commands(blocks(text, "bash")[0])
    assert [w[1] for w in lines] == ["sites", "run", "report", "notebooks"]

    # 1. validate: the line the README quotes, the same for the three files
    quoted = " ".join(re.search(r"`(ok .*?)`", text, flags=re.S)[1].split())
    validate = lines[0]
    for path in own_site["files"]:
        proc = bluecarbon([*validate[:-1], path.name], work, env)
        assert proc.returncode == 0, proc.stderr
        ok = [" ".join(line.split()) for line in proc.stdout.splitlines() if line.startswith("ok")]
        assert ok == [quoted], (path.name, proc.stdout)

    # 2. run, 3. report: as written, exit code 0
    for words in lines[1:3]:
        proc = bluecarbon(words, work, env)
        assert proc.returncode == 0, (words, proc.stdout[-2000:], proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    run, report = lines[1], lines[2]
    out = work / run[run.index("--out") + 1]
    month = report[report.index("--month") + 1]
    assert out.name == report[report.index("--out") + 1]
    folder = out / "reports" / month / "gazi-bay-partners"
    html = folder / f"gazi-bay-partners-{month}.html"
    assert f"`{folder.relative_to(work)}/`" in text and f"`{html.name}`" in text  # as described
    assert {p.suffix for p in folder.iterdir()} == {".html", ".pdf", ".csv"}
    assert own_site["props"]["name"] in html.read_text(encoding="utf-8")
    assert list((out / "maps" / own_site["props"]["id"]).glob(f"{month}_change.tif"))

    # 4. notebooks: JupyterLab is an extra; the line parses and points at these results
    from flows.cli import _build_parser

    args = _build_parser().parse_args(lines[3][1:])
    assert (work / args.out / "change").is_dir()


def test_the_real_source_line_and_the_config_example_are_valid(own_site, monkeypatch):
    """Parsed and checked like `bluecarbon run` does before any work (no network)."""
    from flows.cli import _build_parser, _run_config
    from flows.config import load_config

    monkeypatch.chdir(own_site["work"])
    (real,) = commands(blocks(own_site["text"], "bash")[1])
    config, sites = _run_config(_build_parser().parse_args(real[1:]))
    assert config.source == "stac" and config.catalog.startswith("https://")
    assert [s.id for s in sites] == [own_site["props"]["id"]]
    (toml,) = blocks(section("Real sources"), "toml")
    Path("gazi.toml").write_text(toml, encoding="utf-8")
    assert load_config(Path("gazi.toml")).catalog == config.catalog
