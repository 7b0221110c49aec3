"""Tamper evidence: a posting's content digest, the hash chain, and no insert over an existing row.

- ``postings.content_digest``: the same idempotency key with other content is refused.
- ``chain_links`` / ``chain_heads``: the hash chain over postings, movements and the audit log
  (see :mod:`ims_tui.db.chain`); rows already in the store are linked here, in id order.
- SQLite: ``REPLACE INTO`` deletes the row it replaces without firing the delete trigger, so an
  insert whose key already exists is refused on the append-only tables.

Revision ID: 0005
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from ims_tui.db import chain

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None

# Each append-only table with the column sets an insert must not collide with.
KEYS = {
    "postings": (("id",), ("idempotency_key",)),
    "movements": (("id",),),
    "audit_log": (("id",),),
    "chain_links": (("id",), ("stripe", "seq"), ("tbl", "row_id")),
}


def _no_insert_over(table: str, keys: tuple[tuple[str, ...], ...]) -> str:
    clash = " OR ".join("(" + " AND ".join(f"{c} = NEW.{c}" for c in columns) + ")" for columns in keys)
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: insert over an existing row refused'); END"
    )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.add_column("postings", sa.Column("content_digest", sa.String(length=64), nullable=True))
    op.create_table(
        "chain_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stripe", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("tbl", sa.String(length=20), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_links")),
        sa.UniqueConstraint("stripe", "seq", name="uq_chain_links_stripe_seq"),
        sa.UniqueConstraint("tbl", "row_id", name="uq_chain_links_row"),
    )
    heads = op.create_table(
        "chain_heads",
        sa.Column("stripe", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stripe", name=op.f("pk_chain_heads")),
    )
    op.bulk_insert(heads, [{"stripe": n, "seq": 0, "hash": chain.GENESIS} for n in range(chain.STRIPES)])
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER chain_links_append_only BEFORE UPDATE OR DELETE ON chain_links "
            "FOR EACH ROW EXECUTE FUNCTION ims_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER chain_links_no_{operation.lower()} BEFORE {operation} ON chain_links "
                f"BEGIN SELECT RAISE(ABORT, 'chain_links is append-only: {operation} refused'); END"
            )
        for table, keys in KEYS.items():
            op.execute(_no_insert_over(table, keys))
    _link_existing_rows()


def _link_existing_rows() -> None:
    connection = op.get_bind()
    for table, columns in chain.CHAINED.items():
        last = 0
        while True:
            rows = connection.execute(
                sa.select(*columns).where(columns[0] > last).order_by(columns[0]).limit(5000)
            ).all()
            if not rows:
                break
            chain.append(connection, [(table, row[0], chain.row_hash(table, row)) for row in rows], stripe=0)
            last = rows[-1][0]


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for table in KEYS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS chain_links_no_{operation}")
    else:
        op.execute("DROP TRIGGER IF EXISTS chain_links_append_only ON chain_links")
    op.drop_table("chain_heads")
    op.drop_table("chain_links")
    # Not batch mode: recreating postings on SQLite would drop a table its movements refer to.
    op.execute("ALTER TABLE postings DROP COLUMN content_digest")
