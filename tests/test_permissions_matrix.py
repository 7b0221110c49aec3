"""Every role x every operation, against the service layer, on SQLite and PostgreSQL.

The expected answers below are written from the issue's role list, not read from
``ROLE_PERMISSIONS``, so a wrong table fails here.  Allowed pairs must work; refused pairs
must raise PermissionDenied, change nothing, and leave one audit row with outcome "denied".
A new operation is one line in OPERATIONS.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import ROLES, AuditEntry, Movement, PurchaseOrder, TaskDraft, User
from ims_tui.services import audit_log, auth, catalogue, inventory, purchasing, receiving, replenishment, stock, users
from ims_tui.services.actor import Actor
from ims_tui.services.errors import PermissionDenied
from ims_tui.services.permissions import ROLE_PERMISSIONS, Permission
from tests.auth_support import PASSWORD, PIN, SETUP, add_user, fast_hashing, use_cheap_hasher  # noqa: F401 - fixture
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database, make_locations, make_product, open_store

pytestmark = pytest.mark.usefixtures("fast_hashing")

ALL = frozenset(ROLES)
ADMIN = frozenset({"admin"})
_serial = itertools.count(1)


@dataclass(frozen=True)
class Operation:
    name: str
    permission: Permission
    allowed: frozenset[str]
    run: Callable[[object, Actor], object]


OPERATIONS = (
    Operation("stock receive", Permission.RECEIVE, frozenset({"admin", "receiver"}),
              lambda s, a: stock.receive(s, a, "P1", Decimal(1), to="BIN-A")),
    Operation("stock issue", Permission.SHIP, frozenset({"admin", "picker"}),
              lambda s, a: stock.issue(s, a, "P1", Decimal(1), source="BIN-A")),
    Operation("stock move", Permission.MOVE, frozenset({"admin", "receiver", "picker"}),
              lambda s, a: stock.move(s, a, "P1", Decimal(1), source="BIN-A", to="BIN-B")),
    Operation("stock adjust", Permission.ADJUST, frozenset({"admin", "manager"}),
              lambda s, a: stock.adjust(s, a, "P1", at="BIN-B", by=Decimal(1), reason="found")),
    Operation("product lookup", Permission.LOOKUP, ALL, lambda s, a: inventory.product_detail(s, a, "P1")),
    Operation("PO list", Permission.LOOKUP, ALL, lambda s, a: purchasing.list_pos(s, a)),
    Operation("PO create", Permission.MANAGE_ORDERS, frozenset({"admin", "manager"}),
              lambda s, a: purchasing.create_po(s, a, "Acme", [purchasing.LineInput("P1", Decimal(5))])),
    Operation("receipt start", Permission.RECEIVE, frozenset({"admin", "receiver"}),
              lambda s, a: receiving.start_receipt(s, a, supplier="Acme")),
    Operation("user add", Permission.MANAGE_USERS, ADMIN,
              lambda s, a: users.add_user(s, a, f"new{next(_serial)}", "picker", PASSWORD)),
    Operation("user list", Permission.MANAGE_USERS, ADMIN, lambda s, a: users.list_users(s, a)),
    Operation("user passwd (another user)", Permission.MANAGE_USERS, ADMIN,
              lambda s, a: users.set_password(s, a, "target", "another-password")),
    Operation("user badge", Permission.MANAGE_USERS, ADMIN,
              lambda s, a: users.set_badge_pin(s, a, "target", f"BADGE-T{next(_serial)}", PIN)),
    Operation("user disable", Permission.MANAGE_USERS, ADMIN, lambda s, a: users.disable(s, a, "target")),
    Operation("user enable", Permission.MANAGE_USERS, ADMIN, lambda s, a: users.enable(s, a, "target")),
    Operation("user unlock", Permission.MANAGE_USERS, ADMIN, lambda s, a: users.unlock(s, a, "target")),
    Operation("user role", Permission.MANAGE_USERS, ADMIN, lambda s, a: users.set_role(s, a, "target", "receiver")),
    Operation("audit browse", Permission.VIEW_AUDIT, frozenset({"admin", "manager", "auditor"}),
              lambda s, a: audit_log.browse(s, a)),
    Operation("audit export", Permission.VIEW_AUDIT, frozenset({"admin", "manager", "auditor"}),
              lambda s, a: list(audit_log.iter_entries(s, a))),
    Operation("reorder alerts", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.list_alerts(s, a)),
    Operation("reorder alert count", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.count_open_alerts(s, a)),
    Operation("suggested POs", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.suggest(s, a)),
    Operation("suggested POs created", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.create_orders(s, a)),
    Operation("reorder points", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.reorder_points(s, a)),
    Operation("reorder points applied", Permission.REPLENISH, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.apply_reorder_points(s, a, ["P1"])),
    Operation("reorder settings read", Permission.LOOKUP, ALL,
              lambda s, a: replenishment.get_reorder_settings(s, a, "P1")),
    Operation("reorder settings set", Permission.MANAGE_PRODUCTS, frozenset({"admin", "manager"}),
              lambda s, a: replenishment.set_reorder_settings(s, a, "P1", reorder_point=1, reorder_qty=5)),
    Operation("audit actions", Permission.VIEW_AUDIT, frozenset({"admin", "manager", "auditor"}),
              lambda s, a: audit_log.known_actions(s, a)),
)


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(request, tmp_path_factory):
    """One store per backend for the whole matrix, with a signed-in user of every role."""
    if request.param == "postgresql":
        url = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'store.db'}"
    with pytest.MonkeyPatch.context() as patch:
        use_cheap_hasher(patch)
        store = open_store(url)
        make_product(store, "P1")
        make_locations(store, "BIN-A", "BIN-B")
        with store.write() as session:
            catalogue.save_supplier(session, SETUP, "Acme", {})
        stock.receive(store, SETUP, "P1", Decimal(1000), to="BIN-A")
        stock.receive(store, SETUP, "P1", Decimal(1000), to="BIN-B")
        add_user(store, "target", "picker")
        actors = {}
        for role in ROLES:
            add_user(store, f"as-{role}", role)
            actors[role] = auth.sign_in(store, f"as-{role}", PASSWORD, station="matrix").actor
    yield store, actors
    store.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


def snapshot(store) -> tuple:
    """Everything an operation in the matrix could change, except the audit rows of refusals."""
    with store.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Movement)),
            session.scalar(select(func.count()).select_from(PurchaseOrder)),
            session.scalar(select(func.count()).select_from(TaskDraft)),
            session.execute(
                select(User.username, User.role, User.active, User.badge_code, User.password_hash, User.pin_hash,
                       User.failed_attempts, User.locked_until).order_by(User.id)
            ).all(),
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.outcome != "denied")),
        )


def last_audit(store):
    with store.read() as session:
        return session.execute(select(AuditEntry.__table__).order_by(AuditEntry.id.desc()).limit(1)).one()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_role_may_or_may_not(matrix, operation: Operation, role: str):
    store, actors = matrix
    actor = actors[role]
    if role in operation.allowed:
        operation.run(store, actor)
        return
    before = snapshot(store)
    with pytest.raises(PermissionDenied, match="permission denied"):
        operation.run(store, actor)
    assert snapshot(store) == before
    refusal = last_audit(store)
    assert (refusal.username, refusal.role, refusal.station) == (actor.username, role, "matrix")
    assert (refusal.action, refusal.outcome) == (operation.permission.value, "denied")


def test_the_table_matches_the_issue_role_list():
    """Each role's whole permission set, as the issue describes the roles."""
    floor = {Permission.LOOKUP, Permission.MOVE, Permission.COUNT, Permission.PRINT_LABELS}
    assert ROLE_PERMISSIONS["admin"] == frozenset(Permission)
    assert ROLE_PERMISSIONS["receiver"] == floor | {Permission.RECEIVE}
    assert ROLE_PERMISSIONS["picker"] == floor | {Permission.PICK, Permission.SHIP}
    assert ROLE_PERMISSIONS["auditor"] == {Permission.LOOKUP, Permission.REPORTS, Permission.EXPORT, Permission.VIEW_AUDIT}
    manager = ROLE_PERMISSIONS["manager"]
    assert {Permission.MANAGE_PRODUCTS, Permission.MANAGE_SUPPLIERS, Permission.MANAGE_ORDERS, Permission.ADJUST,
            Permission.APPROVE_COUNT, Permission.REPORTS, Permission.REPLENISH, Permission.VIEW_AUDIT} <= manager
    assert not manager & {Permission.MANAGE_USERS, Permission.RECEIVE, Permission.PICK, Permission.SHIP, Permission.MOVE}
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def test_the_matrix_covers_every_operation_permission_it_names():
    """Guard against a silently shrinking matrix: each kind of operation is in it."""
    assert {op.permission for op in OPERATIONS} >= {
        Permission.RECEIVE, Permission.SHIP, Permission.MOVE, Permission.ADJUST, Permission.LOOKUP,
        Permission.MANAGE_ORDERS, Permission.MANAGE_USERS, Permission.VIEW_AUDIT, Permission.REPLENISH,
    }
