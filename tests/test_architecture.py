"""The layers, proved by importing them (as Harlequin's import-hygiene test does).

Each layer is imported in a fresh interpreter with ``builtins.__import__`` watched: what the
layer's modules import at run time (also from the cache) is recorded as (importer, imported)
edges, and ``sys.modules`` says what the layer pulled in.  The rules (CONTRIBUTING.md):

- ``db`` imports nothing above it (no services, flows, screens, widgets, CLI, app, Textual);
- ``services``, ``flows`` and ``devices`` never load Textual (or Rich);
- ``devices`` never load SQLAlchemy, the db layer or services;
- ``screens`` and ``widgets`` never import SQLAlchemy, ``ims_tui.db``, Alembic or psycopg
  themselves (they reach the store only through services);
- no module imports another module's private (``_name``) names.

Function-level imports that a plain import does not run are checked from the source as well.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ims_tui"

PROBE = r"""
import builtins, importlib, json, pkgutil, sys
edges = set()
real_import = builtins.__import__

def watching(name, globals=None, locals=None, fromlist=(), level=0):
    module = real_import(name, globals, locals, fromlist, level)
    importer = (globals or {}).get("__name__", "")
    if importer.startswith("ims_tui"):
        edges.add((importer, module.__name__ if fromlist or level else name))
        for item in fromlist or ():
            edges.add((importer, f"{module.__name__}.{item}"))
    return module

builtins.__import__ = watching
layer = sys.argv[1]
package = importlib.import_module(layer)
names = [layer]
if hasattr(package, "__path__"):
    names += [info.name for info in pkgutil.walk_packages(package.__path__, layer + ".")
              if ".migrations.versions." not in info.name]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": sorted(sys.modules), "edges": sorted(edges), "layer_modules": names}))
"""


def probe(layer: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, layer], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def loaded(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


ABOVE_DB = ("ims_tui.services", "ims_tui.flows", "ims_tui.screens", "ims_tui.widgets", "ims_tui.cli", "ims_tui.app",
            "textual", "rich")
UI = ("textual", "rich")
DATABASE = ("sqlalchemy", "ims_tui.db", "alembic", "psycopg")


def test_db_imports_nothing_above_it():
    assert loaded(probe("ims_tui.db")["modules"], ABOVE_DB) == []


@pytest.mark.parametrize("layer", ["ims_tui.services", "ims_tui.flows", "ims_tui.devices", "ims_tui.values",
                                   "ims_tui.settings", "ims_tui.errors"])
def test_services_flows_and_devices_never_load_textual(layer):
    assert loaded(probe(layer)["modules"], UI) == []


def test_devices_never_load_the_database_or_services():
    assert loaded(probe("ims_tui.devices")["modules"], (*DATABASE, "ims_tui.services", "ims_tui.flows")) == []


@pytest.mark.parametrize("layer", ["ims_tui.screens", "ims_tui.widgets"])
def test_screens_and_widgets_never_import_the_database_themselves(layer):
    found = probe(layer)
    offending = sorted(
        f"{importer} imports {target}" for importer, target in found["edges"]
        if importer.startswith(layer) and any(target == f or target.startswith(f + ".") for f in DATABASE)
    )
    assert offending == []
    assert any(importer.startswith(layer) for importer, _ in found["edges"])  # the probe saw the layer import


# --- from the source: imports inside functions, and private names ------------------------------


def source_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every import in ``path``, at any depth; name '' for ``import x``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def files_in(*parts: str) -> list[Path]:
    return sorted(PACKAGE.joinpath(*parts).rglob("*.py"))


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("db", ABOVE_DB), ("services", UI), ("flows", UI), ("devices", (*UI, *DATABASE, "ims_tui.services")),
    ("screens", DATABASE), ("widgets", DATABASE),
])
def test_no_layer_imports_what_it_may_not_even_inside_a_function(layer, forbidden):
    offending = [
        f"{module_name(path)} imports {module}"
        for path in files_in(layer) if "versions" not in path.parts
        for module, _ in source_imports(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert offending == []


def test_no_module_imports_another_modules_private_names():
    offending = [
        f"{module_name(path)} imports {name} from {module}"
        for path in files_in()
        for module, name in source_imports(path)
        if module.startswith("ims_tui") and name.startswith("_") and not name.startswith("__")
        and module != module_name(path)
    ]
    assert offending == []


def test_the_checks_see_imports():
    """Guard against a vacuous pass: each kind of check finds a known import."""
    assert ("sqlalchemy", "select") in source_imports(PACKAGE / "services" / "ledger.py")
    assert "sqlalchemy" in probe("ims_tui.services.ledger")["modules"]
    edges = probe("ims_tui.screens.flow")["edges"]
    assert ["ims_tui.screens.flow", "ims_tui.flows.engine.Flow"] in edges


SERVING = ("ims_tui.serve", "asyncssh", "textual_serve", "aiohttp")


@pytest.mark.parametrize("layer", ["db", "services", "flows", "devices", "screens", "widgets"])
def test_only_serve_knows_how_the_app_is_served(layer):
    """serve/ may import the app and the services; nothing below it imports serve/ or its servers."""
    offending = [
        f"{module_name(path)} imports {module}"
        for path in files_in(layer) if "versions" not in path.parts
        for module, _ in source_imports(path)
        if any(module == f or module.startswith(f + ".") for f in SERVING)
    ]
    assert offending == []
