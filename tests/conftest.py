"""Shared fixtures: real stores on SQLite and PostgreSQL (no mocked database).

PostgreSQL tests create a fresh database on the server named by ``IMS_TEST_DATABASE_URL``
(default: the local server).  They are skipped with the reason when no server answers, and
fail instead when ``IMS_TEST_REQUIRE_POSTGRES=1`` (as in CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.services.actor import Actor

PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}"


_PG_PROBLEM: str | None | bool = False


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_unavailable()
    if _PG_PROBLEM:
        if os.environ.get("IMS_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(_PG_PROBLEM)
        pytest.skip(_PG_PROBLEM)


def create_pg_database() -> str:
    """A new empty database on the test server; returns its URL."""
    require_postgres()
    name = f"ims_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _default_site_settings() -> Iterator[None]:
    """Each test starts with the default site settings (an app or the CLI sets its own)."""
    from ims_tui.settings import SiteSettings, use_site

    use_site(SiteSettings())
    yield
    use_site(SiteSettings())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
    return request.param


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty store (no schema) on the parametrised backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def twin_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A second new, empty store on the same backend (in its own folder ``twin`` on SQLite), for
    tests that compare two stores or time an operation on a copy."""
    if backend == "sqlite":
        (tmp_path / "twin").mkdir()
        yield f"sqlite:///{tmp_path / 'twin' / 'store.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def open_store(url: str) -> Store:
    """A store at ``url`` with the schema (which includes the virtual locations) in place."""
    store = Store(url)
    schema.upgrade(store)
    return store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty store (schema, virtual locations) on SQLite and on PostgreSQL."""
    store = open_store(store_url)
    yield store
    store.dispose()


@pytest.fixture
def admin() -> Actor:
    return Actor(username="tester", role="admin", station="test-station")


def make_product(store: Store, sku: str, *, tracking: str = "none", cost: str = "2.50", barcodes: tuple[tuple[str, int], ...] = (), **fields) -> None:
    """Test setup through the catalogue service (audited like any other change)."""
    from ims_tui.services import catalogue

    actor = Actor("setup", "admin", "test")
    with store.write() as session:
        product = catalogue.save_product(
            session, actor, sku,
            {"name": fields.pop("name", f"Product {sku}"), "tracking": tracking, "standard_cost": Decimal(cost), **fields},
            create=True,
        )
        session.flush()
        for code, pack in barcodes:
            catalogue.set_barcode(session, actor, product, code, Decimal(pack))


def make_locations(store: Store, *codes: str) -> None:
    from ims_tui.services import catalogue

    actor = Actor("setup", "admin", "test")
    with store.write() as session:
        for code in codes:
            catalogue.save_location(session, actor, code, warehouse="WH1")


def run_cli(capsys, url: str, *argv: str) -> tuple[int, str, str]:
    """``ims --db URL ARGV...`` in this process: (exit code, stdout, stderr); never a traceback."""
    from ims_tui.cli.main import main

    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err
