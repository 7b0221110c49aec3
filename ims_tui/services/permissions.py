"""The one table of who may do what, checked in the service layer for every operation."""

from __future__ import annotations

from enum import StrEnum

from typing import TYPE_CHECKING

from ims_tui.services.actor import Actor
from ims_tui.services.errors import PermissionDenied

if TYPE_CHECKING:
    from ims_tui.db.engine import Store


class Permission(StrEnum):
    LOOKUP = "lookup"
    RECEIVE = "receive"
    MOVE = "move"
    PICK = "pick"
    SHIP = "ship"
    ADJUST = "adjust"
    COUNT = "count"
    APPROVE_COUNT = "approve_count"
    APPROVE_OVERRIDE = "approve_override"
    MANAGE_PRODUCTS = "manage_products"
    MANAGE_SUPPLIERS = "manage_suppliers"
    MANAGE_ORDERS = "manage_orders"
    MANAGE_DRAFTS = "manage_drafts"
    REPLENISH = "replenish"
    REPORTS = "reports"
    EXPORT = "export"
    IMPORT = "import"
    VIEW_AUDIT = "view_audit"
    PRINT_LABELS = "print_labels"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"


# The roles: admin (everything, users); manager (products, suppliers, orders, adjustments,
# counts approval, reports, replenishment, and the audit log); receiver (receive, putaway, move,
# lookup); picker (pick, ship, move, lookup); auditor (read-only: lookup, reports, audit log).
# Floor roles also count stock and print labels; nobody but admin manages users or the store's
# settings (security policy).
_FLOOR = {Permission.LOOKUP, Permission.MOVE, Permission.COUNT, Permission.PRINT_LABELS}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "manager": frozenset(
        {
            Permission.LOOKUP, Permission.ADJUST, Permission.COUNT, Permission.APPROVE_COUNT,
            Permission.APPROVE_OVERRIDE, Permission.MANAGE_PRODUCTS, Permission.MANAGE_SUPPLIERS,
            Permission.MANAGE_ORDERS, Permission.MANAGE_DRAFTS, Permission.REPLENISH, Permission.REPORTS,
            Permission.EXPORT, Permission.IMPORT, Permission.VIEW_AUDIT, Permission.PRINT_LABELS,
        }
    ),
    "receiver": frozenset(_FLOOR | {Permission.RECEIVE}),
    "picker": frozenset(_FLOOR | {Permission.PICK, Permission.SHIP}),
    "auditor": frozenset({Permission.LOOKUP, Permission.REPORTS, Permission.EXPORT, Permission.VIEW_AUDIT}),
}


def allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def check(store: Store, actor: Actor, permission: Permission, target: str = "") -> None:
    """Raise :class:`PermissionDenied` unless the actor's role allows ``permission``.

    For a signed-in user (``actor.user_id`` set) the role and the active flag are read from the
    store, so disabling or demoting someone takes effect on their open sessions at once.
    Call it before opening the operation's transaction: the refusal is audited in a
    transaction of its own, so it is kept although the operation never happens.
    """
    role, active = actor.role, True
    if actor.user_id is not None:
        from sqlalchemy import select  # not at import time: the station's task list needs only the table

        from ims_tui.db.models import User

        with store.read() as session:
            row = session.execute(select(User.role, User.active).where(User.id == actor.user_id)).one_or_none()
        role, active = (row.role, row.active) if row is not None else (actor.role, False)
    if active and allows(role, permission):
        return
    from ims_tui.services.audit import record

    reason = f"role {role} may not {permission.value.replace('_', ' ')}" if active else "the account is disabled"

    def _work(session):
        record(session, actor, permission.value, target, f"permission denied: {reason}", outcome="denied")

    store.transact(_work)
    raise PermissionDenied(f"permission denied: {reason}")
