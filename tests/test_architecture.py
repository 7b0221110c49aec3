"""Import hygiene: the domain and devices never import Textual; screens never touch the database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ims_tui"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files_in(*parts: str) -> list[Path]:
    return sorted((PACKAGE.joinpath(*parts)).rglob("*.py"))


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in paths
        for name in sorted(imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize("layer", ["services", "devices", "db"])
def test_domain_and_devices_never_import_textual(layer):
    assert offending(files_in(layer), ("textual", "rich")) == []


def test_devices_never_import_the_database():
    assert offending(files_in("devices"), ("sqlalchemy", "ims_tui.db", "ims_tui.services")) == []


@pytest.mark.parametrize("layer", ["screens", "widgets"])
def test_screens_never_import_sqlalchemy_or_the_db_layer(layer):
    assert offending(files_in(layer), ("sqlalchemy", "ims_tui.db", "alembic", "psycopg")) == []


def test_the_checker_sees_imports():
    """Guard against a vacuous pass: the checker finds a known import."""
    assert "sqlalchemy" in imported_modules(PACKAGE / "services" / "ledger.py")


@pytest.mark.parametrize("layer", ["services", "devices", "db", "screens", "widgets"])
def test_only_serve_knows_how_the_app_is_served(layer):
    """serve/ may import the app and the services; nothing below it imports serve/ or its servers."""
    assert offending(files_in(layer), ("ims_tui.serve", "asyncssh", "textual_serve", "aiohttp")) == []
