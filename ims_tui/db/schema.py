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
    with store.connect() as connection:
        return not inspect(connection).get_table_names()


def upgrade(store: Store) -> tuple[str | None, str]:
    """Bring the schema to this program's head; a no-op when it is there. Returns (before, after)."""
    before = current_revision(store)
    known = {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    if before is not None and before not in known:
        raise StoreError(
            f"the store's schema revision {before} is newer than this program knows; upgrade ims-tui"
        )
    if before != head_revision():
        config = _alembic_config()
        with store.connect(begin=True) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before, head_revision()


def ensure_current(store: Store) -> None:
    """Refuse to work on a store whose schema is not this program's (exit 4 names the fix)."""
    revision = current_revision(store)
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        raise StoreError(f"store {store.display_url} has no schema yet; run 'ims db upgrade'")
    known = {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    if revision in known:
        raise StoreError(f"store schema {revision} is older than this program's {head}; run 'ims db upgrade'")
    raise StoreError(f"store schema {revision} is newer than this program knows; upgrade ims-tui")
