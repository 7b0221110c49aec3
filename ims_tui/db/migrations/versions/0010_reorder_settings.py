"""Reorder settings per product and warehouse, with their live alert; pack multiples on supplier items.

The products' own reorder point and quantity become the settings of each product's home
warehouse (the warehouse of its default location, else the first one), so the stores that set
them keep their thresholds.

Revision ID: 0010
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None


def _qty(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.add_column("supplier_items", sa.Column("pack_qty", sa.BigInteger(), nullable=False, server_default="1000"))
    op.create_table(
        "reorder_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        _qty("reorder_point"),
        _qty("reorder_qty"),
        _qty("max_qty"),
        _qty("safety_stock"),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("alert_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("reorder_point >= 0 AND reorder_qty >= 0 AND max_qty >= 0 AND safety_stock >= 0",
                           name="ck_reorder_settings_not_negative"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name="fk_reorder_settings_product_id_products",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"], name="fk_reorder_settings_warehouse_id_warehouses"),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"], name="fk_reorder_settings_supplier_id_suppliers"),
        sa.PrimaryKeyConstraint("id", name="pk_reorder_settings"),
        sa.UniqueConstraint("product_id", "warehouse_id", name="uq_reorder_settings_product_warehouse"),
    )
    op.create_index("ix_reorder_settings_alert_since", "reorder_settings", ["alert_since"])
    # Each product's thresholds move to its home warehouse, with its first supplier as preferred.
    op.execute(
        """
        INSERT INTO reorder_settings (product_id, warehouse_id, reorder_point, reorder_qty, max_qty, safety_stock,
                                      supplier_id, updated_at)
        SELECT p.id,
               COALESCE((SELECT l.warehouse_id FROM locations l WHERE l.id = p.default_location_id),
                        (SELECT MIN(w.id) FROM warehouses w)),
               p.reorder_point, p.reorder_qty, 0, 0,
               (SELECT si.supplier_id FROM supplier_items si WHERE si.product_id = p.id ORDER BY si.id LIMIT 1),
               CURRENT_TIMESTAMP
        FROM products p
        WHERE (p.reorder_point > 0 OR p.reorder_qty > 0) AND EXISTS (SELECT 1 FROM warehouses)
        """
    )


def downgrade() -> None:
    op.drop_index("ix_reorder_settings_alert_since", table_name="reorder_settings")
    op.drop_table("reorder_settings")
    op.drop_column("supplier_items", "pack_qty")
