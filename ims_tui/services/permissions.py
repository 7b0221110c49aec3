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


_MANAGER = frozenset(Permission) - {Permission.MANAGE_USERS}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "manager": _MANAGER,
    "receiver": frozenset(
        {Permission.LOOKUP, Permission.RECEIVE, Permission.MOVE, Permission.COUNT, Permission.PRINT_LABELS}
    ),
    "picker": frozenset(
        {Permission.LOOKUP, Permission.PICK, Permission.SHIP, Permission.MOVE, Permission.COUNT, Permission.PRINT_LABELS}
    ),
    "auditor": frozenset({Permission.LOOKUP, Permission.REPORTS, Permission.EXPORT, Permission.VIEW_AUDIT}),
}


def allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def check(store: Store, actor: Actor, permission: Permission, target: str = "") -> None:
    """Raise :class:`PermissionDenied` unless the actor's role allows ``permission``.

    Call it before opening the operation's transaction: the refusal is audited in a
    transaction of its own, so it is kept although the operation never happens.
    """
    if allows(actor.role, permission):
        return
    from ims_tui.services.audit import record

    with store.write() as session:
        record(session, actor, permission.value, target, "permission denied", outcome="denied")
    raise PermissionDenied(f"permission denied: role {actor.role} may not {permission.value.replace('_', ' ')}")
