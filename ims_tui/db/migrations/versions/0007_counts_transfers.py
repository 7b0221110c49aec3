"""Cycle counts and inter-warehouse transfers.

Reshapes the count tables of 0001, which nothing used and which hold no rows: a count is now a
task over many bins (``stock_count_bins``) whose lines record, per bin, product and lot, the
quantity counted and the ledger position (last movement id of that balance, with the balance
then) at the moment it was counted.  Adds ``stock_transfers`` and their lines.

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

COUNT_KINDS = ("locations", "products", "recounts", "scheduled")
COUNT_STATUSES = ("open", "review", "approved", "cancelled")
COUNT_LINE_STATUSES = ("open", "counted", "ok", "recount", "recounted", "posted", "dropped")
TRANSFER_STATUSES = ("draft", "shipped", "partial", "received", "closed", "cancelled")


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.drop_table("stock_count_lines")
    op.drop_table("stock_counts")
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("submitted_by", sa.String(120), nullable=True),
        _when("submitted_at"),
        sa.Column("approved_by", sa.String(120), nullable=True),
        _when("approved_at"),
        sa.CheckConstraint(f"kind IN {COUNT_KINDS}", name=op.f("ck_stock_counts_kind")),
        sa.CheckConstraint(f"status IN {COUNT_STATUSES}", name=op.f("ck_stock_counts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        sa.UniqueConstraint("number", name=op.f("uq_stock_counts_number")),
    )
    op.create_table(
        "stock_count_bins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("counted_by", sa.String(120), nullable=True),
        _when("done_at"),
        sa.ForeignKeyConstraint(["count_id"], ["stock_counts.id"], name=op.f("fk_stock_count_bins_count_id_stock_counts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_stock_count_bins_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_bins")),
        sa.UniqueConstraint("count_id", "location_id", name=op.f("uq_stock_count_bins_count_id")),
    )
    op.create_table(
        "stock_count_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_key", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("counted_qty", sa.BigInteger(), nullable=True),
        sa.Column("counted_by", sa.String(120), nullable=True),
        _when("counted_at"),
        sa.Column("expected_qty", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("counted_serials", sa.JSON(), nullable=False),
        sa.Column("expected_serials", sa.JSON(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=True),
        sa.Column("first_qty", sa.BigInteger(), nullable=True),
        sa.Column("first_expected", sa.BigInteger(), nullable=True),
        sa.Column("first_by", sa.String(120), nullable=True),
        sa.Column("approved_by", sa.String(120), nullable=True),
        sa.Column("posting_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"status IN {COUNT_LINE_STATUSES}", name=op.f("ck_stock_count_lines_status")),
        sa.ForeignKeyConstraint(["count_id"], ["stock_counts.id"], name=op.f("fk_stock_count_lines_count_id_stock_counts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_stock_count_lines_location_id_locations")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_stock_count_lines_product_id_products")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_stock_count_lines_lot_id_lots")),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name=op.f("fk_stock_count_lines_posting_id_postings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lines")),
        sa.UniqueConstraint("count_id", "location_id", "product_id", "lot_key", name="uq_stock_count_lines_key"),
        sa.UniqueConstraint("count_id", "line_no", name="uq_stock_count_lines_line_no"),
    )
    op.create_index("ix_stock_count_lines_count_id", "stock_count_lines", ["count_id"])
    op.create_index("ix_stock_count_lines_product_id", "stock_count_lines", ["product_id"])
    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("from_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("to_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("transit_location_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("shipped_by", sa.String(120), nullable=True),
        _when("shipped_at"),
        _when("closed_at"),
        sa.CheckConstraint(f"status IN {TRANSFER_STATUSES}", name=op.f("ck_stock_transfers_status")),
        sa.ForeignKeyConstraint(["from_warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_transfers_from_warehouse_id_warehouses")),
        sa.ForeignKeyConstraint(["to_warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_transfers_to_warehouse_id_warehouses")),
        sa.ForeignKeyConstraint(["transit_location_id"], ["locations.id"], name=op.f("fk_stock_transfers_transit_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfers")),
        sa.UniqueConstraint("number", name=op.f("uq_stock_transfers_number")),
    )
    op.create_table(
        "stock_transfer_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("qty_shipped", sa.BigInteger(), nullable=False),
        sa.Column("qty_received", sa.BigInteger(), nullable=False),
        sa.Column("shipped", sa.JSON(), nullable=False),
        sa.Column("received", sa.JSON(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_stock_transfer_lines_qty_positive")),
        sa.CheckConstraint("qty_received <= qty_shipped", name=op.f("ck_stock_transfer_lines_received_within_shipped")),
        sa.ForeignKeyConstraint(["transfer_id"], ["stock_transfers.id"], name=op.f("fk_stock_transfer_lines_transfer_id_stock_transfers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_stock_transfer_lines_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfer_lines")),
        sa.UniqueConstraint("transfer_id", "line_no", name=op.f("uq_stock_transfer_lines_transfer_id")),
    )
    op.create_index("ix_stock_transfer_lines_transfer_id", "stock_transfer_lines", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("stock_transfer_lines")
    op.drop_table("stock_transfers")
    op.drop_table("stock_count_lines")
    op.drop_table("stock_count_bins")
    op.drop_table("stock_counts")
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("approved_by", sa.String(120), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_stock_counts_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        sa.UniqueConstraint("number", name=op.f("uq_stock_counts_number")),
    )
    op.create_table(
        "stock_count_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("expected_qty", sa.BigInteger(), nullable=False),
        sa.Column("counted_qty", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["count_id"], ["stock_counts.id"], name=op.f("fk_stock_count_lines_count_id_stock_counts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_stock_count_lines_lot_id_lots")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_stock_count_lines_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lines")),
    )
    op.create_index("ix_stock_count_lines_count_id", "stock_count_lines", ["count_id"])
