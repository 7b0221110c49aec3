"""Create the virtual locations every posting names: Supplier, Customer, Inventory adjustment, Scrap.

A store made by ``ims db upgrade`` alone can then receive, ship and adjust stock at once.
The downgrade removes only those not yet named by a movement.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VIRTUAL_LOCATIONS = (
    ("SUPPLIER", "Supplier", "supplier"),
    ("CUSTOMER", "Customer", "customer"),
    ("ADJUSTMENT", "Inventory adjustment", "adjustment"),
    ("SCRAP", "Scrap", "scrap"),
)
locations = sa.table(
    "locations", sa.column("code"), sa.column("name"), sa.column("kind"), sa.column("active", sa.Boolean)
)


def upgrade() -> None:
    codes = [code for code, _, _ in VIRTUAL_LOCATIONS]
    existing = set(op.get_bind().execute(sa.select(locations.c.code).where(locations.c.code.in_(codes))).scalars())
    rows = [
        {"code": code, "name": name, "kind": kind, "active": True}
        for code, name, kind in VIRTUAL_LOCATIONS
        if code not in existing
    ]
    if rows:
        op.bulk_insert(locations, rows)


def downgrade() -> None:
    codes = ", ".join(f"'{code}'" for code, _, _ in VIRTUAL_LOCATIONS)
    op.execute(
        f"DELETE FROM locations WHERE code IN ({codes}) "
        "AND id NOT IN (SELECT from_location_id FROM movements UNION SELECT to_location_id FROM movements)"
    )
