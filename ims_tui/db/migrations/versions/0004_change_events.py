"""Change events for the SQLite feed, and each product's minimum shelf life at receipt.

``change_events``: every mutation writes one row per topic it changed in its own transaction
(PostgreSQL announces the same with ``pg_notify`` and never writes here); the SQLite change feed
reads the rows newer than the last it saw, so PO, draft and catalogue changes reach every station.

``products.min_shelf_life_days``: goods arriving with less shelf life left are warned about at
the receiving desk (expired goods need a manager).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(30), nullable=False),
        sa.Column("ident", sa.String(120), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
    )
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("min_shelf_life_days", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying products would drop the old
    # table, which SQLite refuses while other tables' rows point at it.
    op.drop_column("products", "min_shelf_life_days")
    op.drop_table("change_events")
