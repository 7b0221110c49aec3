"""Creating and migrating the schema with Alembic, and refusing stores of another revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ims_tui.db.engine import Store
from ims_tui.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def current_revision(store: Store) -> str | None:
    with store.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_empty(store: Store) -> bool:
    """No tables (an ``alembic_version`` left empty by a full downgrade does not count)."""
    with store.connect() as connection:
        return not set(inspect(connection).get_table_names()) - {"alembic_version"}


def upgrade(store: Store) -> tuple[str | None, str]:
    """Bring the schema to this program's head; a no-op when it is there. Returns (before, after)."""
    before = current_revision(store)
    if before is None and not is_empty(store):
        raise StoreError(f"{store.display_url} is not an ims store: it holds other tables")
    if before is not None and before not in _known_revisions():
        raise StoreError(
            f"the store's schema revision {before} is newer than this program knows; upgrade ims-tui"
        )
    if before != head_revision():
        config = _alembic_config()
        with store.connect(begin=True) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before, head_revision()


def refuse_newer(store: Store) -> None:
    """Exit 4 for a store whose schema a newer program wrote: nothing here may change it."""
    revision = current_revision(store)
    if revision is not None and revision not in _known_revisions():
        raise StoreError(f"store schema {revision} is newer than this program knows; upgrade ims-tui")


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def ensure_current(store: Store) -> None:
    """Refuse to work on a store whose schema is not this program's (exit 4 names the fix)."""
    revision = current_revision(store)
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        if not is_empty(store):
            raise StoreError(f"{store.display_url} is not an ims store: it holds other tables")
        raise StoreError(f"store {store.display_url} has no schema yet; run 'ims db upgrade'")
    if revision in _known_revisions():
        raise StoreError(f"store schema {revision} is older than this program's {head}; run 'ims db upgrade'")
    raise StoreError(f"store schema {revision} is newer than this program knows; upgrade ims-tui")
