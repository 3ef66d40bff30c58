"""The house's layout: packages by role, no import cycles, short modules, defaults in one place.

The import graph is read from the source with ``ast`` (every ``import``, at module level or
inside a function: a cycle through a lazy import is still a cycle, it only fails later; but
not those under ``if TYPE_CHECKING:``, which never run).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from flows.cli import _build_parser
from flows.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "indices", "aoi")
MAX_TOP_LEVEL_FLOWS_MODULES = 6
MAX_MODULE_LINES = 600


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = path
    return mods


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from a.b import c`` is ``a.b.c`` when that is
    a module, else ``a.b``)."""
    is_package = path.name == "__init__.py"
    out = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):  # imports for type checkers only never run: not an edge
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING"):
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:
                    out.add(full)
                elif base in modules:
                    out.add(base)
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["flows.monitor"], "the import walk found nothing: it is broken"
    assert _cycles(graph) == []


def test_indices_and_aoi_keep_to_their_roles():
    """indices/ is pure compute (nothing from flows/), aoi/ does no raster work."""
    modules = _modules()
    for name, path in modules.items():
        deps = _imports(name, path, modules)
        if name.startswith("indices"):
            assert not any(d.startswith("flows") for d in deps), name
        if name.startswith("aoi"):
            source = path.read_text(encoding="utf-8")
            assert not any(d.startswith(("flows", "indices")) for d in deps), name
            assert "import rasterio" not in source, name


def test_flows_is_grouped_by_role():
    top = sorted(p.name for p in (ROOT / "flows").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_FLOWS_MODULES, top
    for package in ("site", "results", "reports", "runtime", "sources"):
        assert (ROOT / "flows" / package / "__init__.py").is_file(), package


def test_no_long_modules():
    long = {str(p.relative_to(ROOT)): n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


# --------------------------------------------------------------------------- defaults


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(RunConfig)}


def test_flow_signature_defaults_are_runconfig_defaults():
    from flows.monitor import monitor_sites

    defaults = _defaults()
    params = inspect.signature(monitor_sites.fn).parameters
    for name, param in params.items():
        if name in defaults:
            expected = defaults[name]
            expected = str(expected) if isinstance(expected, Path) else expected
            assert param.default == expected, name


def test_prefect_yaml_parameters_are_runconfig_defaults():
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    nightly = next(d for d in doc["deployments"] if d["name"] == "nightly-monitoring")
    defaults = _defaults()
    checked = 0
    for name, value in nightly["parameters"].items():
        if name in defaults and name not in ("sites",):
            expected = defaults[name]
            expected = str(expected) if isinstance(expected, Path) else expected
            assert value == expected, name
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize("option,field", [("--mmu-ha", "mmu_ha"), ("--chunks", "chunks"),
                                          ("--seed", "seed"), ("--source", "source")])
def test_cli_help_shows_runconfig_defaults(option, field):
    run = _build_parser()._subparsers._group_actions[0].choices["run"]  # noqa: SLF001
    action = next(a for a in run._actions if option in a.option_strings)
    assert f"default {getattr(RunConfig, field)}" in action.help


def test_science_defaults_match_the_run_setting():
    """The science functions' own default minimum mapping unit is the run's (they cannot
    import flows/); every ``mmu_ha`` default in indices/ and flows/ is that one value."""
    import indices.alerts
    import indices.canopy
    import indices.change
    import indices.maps
    import indices.patches
    import indices.strips
    import indices.summary
    from flows import site

    assert indices.patches.MMU_HA == RunConfig.mmu_ha
    seen = 0
    for module in (indices.alerts, indices.canopy, indices.change, indices.maps,
                   indices.strips, indices.summary, site):
        for _, obj in inspect.getmembers(module, inspect.isfunction):
            param = inspect.signature(obj).parameters.get("mmu_ha")
            if param is not None and param.default not in (inspect.Parameter.empty, None):
                assert param.default == RunConfig.mmu_ha, obj.__qualname__
                seen += 1
    assert seen >= 5
    assert indices.alerts.AlertRule().mmu_ha == RunConfig.mmu_ha
