"""Sales orders, reservations, pick lists, shipments and recount requests.

Adds: customers' minimum shelf life; the order's shipping policy, hold reason and the
``closed`` status; per line the requested date and the waiting/picked/returned quantities;
locations' pick sequence and usage (stock, packing, quarantine); balances' FIFO receipt
time; and the tables ``allocations``, ``pick_lists``, ``pick_lines``, ``shipments`` and
``recount_requests``.

Revision ID: 0006
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_STATUSES = "('draft', 'confirmed', 'picking', 'partial', 'shipped', 'cancelled')"
NEW_STATUSES = "('draft', 'confirmed', 'picking', 'partial', 'shipped', 'closed', 'cancelled')"


def _set_status_check(statuses: str) -> None:
    """Widen (or narrow) ``ck_sales_orders_status``.

    PostgreSQL drops and re-creates the constraint.  SQLite cannot alter a CHECK, and
    re-creating ``sales_orders`` would cascade-delete its lines (foreign keys are on inside
    the migration's transaction), so the table's stored definition is edited in place - the
    procedure SQLite documents for changes that leave the stored rows valid (ALTER TABLE,
    section 7): only the list of allowed statuses changes.
    """
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE sales_orders DROP CONSTRAINT ck_sales_orders_status")
        op.execute(f"ALTER TABLE sales_orders ADD CONSTRAINT ck_sales_orders_status CHECK (status IN {statuses})")
        return
    current = OLD_STATUSES if statuses == NEW_STATUSES else NEW_STATUSES
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'sales_orders'",
        (f"status IN {current}", f"status IN {statuses}"),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _qty(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.add_column("customers", sa.Column("min_shelf_days", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("locations", sa.Column("pick_seq", sa.Integer(), nullable=True))
    op.add_column("locations", sa.Column("usage", sa.String(20), nullable=False, server_default="stock"))
    op.add_column("balances", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sales_orders", sa.Column("policy", sa.String(20), nullable=False, server_default="as-available"))
    op.add_column("sales_orders", sa.Column("hold_reason", sa.Text(), nullable=False, server_default=""))
    op.add_column("sales_orders", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    _set_status_check(NEW_STATUSES)
    op.add_column("sales_order_lines", sa.Column("requested_date", sa.Date(), nullable=True))
    for name in ("qty_waiting", "qty_picked", "qty_returned"):
        op.add_column("sales_order_lines", _qty(name))

    # FIFO: a balance's stock counts from the first receipt still in it; older stores start
    # from the first movement into it.
    op.execute(
        "UPDATE balances SET received_at = (SELECT min(m.created_at) FROM movements m "
        "WHERE m.product_id = balances.product_id AND m.to_location_id = balances.location_id "
        "AND coalesce(m.lot_id, 0) = balances.lot_key)"
    )

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("sales_orders.id", name="fk_allocations_order_id_sales_orders"), nullable=False),
        sa.Column("line_id", sa.Integer(), sa.ForeignKey("sales_order_lines.id", name="fk_allocations_line_id_sales_order_lines"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", name="fk_allocations_product_id_products"), nullable=False),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id", name="fk_allocations_location_id_locations"), nullable=False),
        sa.Column("lot_key", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("lots.id", name="fk_allocations_lot_id_lots"), nullable=True),
        sa.Column("serial_id", sa.Integer(), sa.ForeignKey("serial_numbers.id", name="fk_allocations_serial_id_serial_numbers"), nullable=True),
        sa.Column("stage", sa.String(10), nullable=False, server_default="reserved"),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("original_qty", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("qty >= 0", name="ck_allocations_qty_not_negative"),
        sa.CheckConstraint("qty <= original_qty", name="ck_allocations_qty_within_original"),
    )
    op.create_index("ix_allocations_line", "allocations", ["line_id"])
    op.create_index("ix_allocations_order", "allocations", ["order_id"])
    op.create_index("ix_allocations_balance", "allocations", ["product_id", "location_id", "lot_key"])

    op.create_table(
        "pick_lists",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("packing_location_id", sa.Integer(), sa.ForeignKey("locations.id", name="fk_pick_lists_packing_location_id_locations"), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "pick_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pick_id", sa.Integer(), sa.ForeignKey("pick_lists.id", name="fk_pick_lines_pick_id_pick_lists"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("sales_orders.id", name="fk_pick_lines_order_id_sales_orders"), nullable=False),
        sa.Column("so_line_id", sa.Integer(), sa.ForeignKey("sales_order_lines.id", name="fk_pick_lines_so_line_id_sales_order_lines"), nullable=False),
        sa.Column("allocation_id", sa.Integer(), sa.ForeignKey("allocations.id", name="fk_pick_lines_allocation_id_allocations"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", name="fk_pick_lines_product_id_products"), nullable=False),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id", name="fk_pick_lines_location_id_locations"), nullable=False),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("lots.id", name="fk_pick_lines_lot_id_lots"), nullable=True),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("qty_picked", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.UniqueConstraint("pick_id", "line_no", name="uq_pick_lines_pick_id"),
    )
    op.create_index("ix_pick_lines_allocation", "pick_lines", ["allocation_id"])
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("sales_orders.id", name="fk_shipments_order_id_sales_orders"), nullable=False),
        sa.Column("sscc", sa.String(18), nullable=False, unique=True),
        sa.Column("posting_id", sa.Integer(), sa.ForeignKey("postings.id", name="fk_shipments_posting_id_postings"), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_shipments_order", "shipments", ["order_id"])
    op.create_table(
        "recount_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id", name="fk_recount_requests_location_id_locations"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", name="fk_recount_requests_product_id_products"), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_recount_requests_open", "recount_requests", ["product_id", "location_id", "done_at"])


def downgrade() -> None:
    op.drop_table("recount_requests")
    op.drop_table("shipments")
    op.drop_table("pick_lines")
    op.drop_table("pick_lists")
    op.drop_table("allocations")
    op.execute("UPDATE sales_orders SET status = 'shipped' WHERE status = 'closed'")
    _set_status_check(OLD_STATUSES)
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch re-creation of these tables
    # would trip the foreign keys that point at them.
    for table, columns in DROPPED_COLUMNS:
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


DROPPED_COLUMNS = (
    ("sales_order_lines", ("qty_returned", "qty_picked", "qty_waiting", "requested_date")),
    ("sales_orders", ("confirmed_at", "hold_reason", "policy")),
    ("balances", ("received_at",)),
    ("locations", ("usage", "pick_seq")),
    ("customers", ("min_shelf_days",)),
)
