"""Valuation snapshots: each product's position at a day boundary, so an as-of valuation reads the
snapshot and only the movements after it (see ``ims_tui/services/reports/snapshots.py``).

- ``valuation_snapshots``: one row per cut (a UTC midnight), with the highest movement and cost
  layer ids it covers and a digest of the locations' warehouses it was computed with.
- ``valuation_snapshot_products``: per product, the quantity, book value, FIFO and LIFO values and
  the receipt totals the moving average needs (raw scaled integers).
- ``valuation_snapshot_stock``: per product and warehouse, the quantity and its share of the values.
- ``movements.created_at`` and ``cost_layers.created_at`` indexes: "the movements after the
  snapshot" is a range scan.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# raw figures: scaled integers (an exact numeric on PostgreSQL, where SUM(bigint) is numeric)
RAW = sa.BigInteger().with_variant(sa.Numeric(38, 0), "postgresql")
# a quantity's share of a value: what the report computes (a double on SQLite, exact numeric on PostgreSQL)
SHARE = sa.Float().with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "valuation_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cut", sa.DateTime(timezone=True), nullable=False),
        sa.Column("movement_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.BigInteger, nullable=False),
        sa.Column("locations_digest", sa.String(64), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_valuation_snapshots"),
        sa.UniqueConstraint("cut", name="uq_valuation_snapshots_cut"),
    )
    op.create_table(
        "valuation_snapshot_products",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("valuation_snapshots.id",
                  name="fk_valuation_snapshot_products_snapshot_id_valuation_snapshots"), nullable=False),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("qty", RAW, nullable=False),
        sa.Column("book", RAW, nullable=False),
        sa.Column("fifo", RAW, nullable=False),
        sa.Column("lifo", RAW, nullable=False),
        sa.Column("receipt_qty", RAW, nullable=False),
        sa.Column("receipt_value", RAW, nullable=False),
        sa.Column("average_value", SHARE, nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "product_id", name="pk_valuation_snapshot_products"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "valuation_snapshot_stock",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("valuation_snapshots.id",
                  name="fk_valuation_snapshot_stock_snapshot_id_valuation_snapshots"), nullable=False),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("warehouse_key", sa.Integer, nullable=False),
        sa.Column("qty", RAW, nullable=False),
        sa.Column("book_value", SHARE, nullable=False),
        sa.Column("fifo_value", SHARE, nullable=False),
        sa.Column("lifo_value", SHARE, nullable=False),
        sa.Column("average_value", SHARE, nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "product_id", "warehouse_key", name="pk_valuation_snapshot_stock"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_movements_created_at", "movements", ["created_at"])
    op.create_index("ix_cost_layers_created_at", "cost_layers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_cost_layers_created_at", table_name="cost_layers")
    op.drop_index("ix_movements_created_at", table_name="movements")
    op.drop_table("valuation_snapshot_stock")
    op.drop_table("valuation_snapshot_products")
    op.drop_table("valuation_snapshots")
