"""Refuse TRUNCATE of the ledger and the audit log on PostgreSQL.

Row triggers (0001) stop UPDATE and DELETE, but TRUNCATE fires no row triggers; a
statement-level BEFORE TRUNCATE trigger closes that gap.  SQLite has no TRUNCATE.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("movements", "postings", "audit_log")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ims_refuse_change()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
