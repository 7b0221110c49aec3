"""Managing accounts through the service: validation, the last administrator, and no secrets anywhere."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ims_tui.db.models import AuditEntry, User
from ims_tui.services import auth, users
from ims_tui.services.errors import BadInput, NotFound, PermissionDenied, RuleViolation
from tests.auth_support import PASSWORD, PIN, SETUP, add_user, fast_hashing  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fast_hashing")


def audit_text(store) -> str:
    with store.read() as session:
        rows = session.execute(select(AuditEntry.__table__)).all()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


def hashes(store) -> list[str]:
    with store.read() as session:
        return [h for row in session.execute(select(User.password_hash, User.pin_hash)) for h in row if h]


def test_add_and_list_users(store):
    info = users.add_user(store, SETUP, "rita", "receiver", PASSWORD, full_name=" Rita Receiver ", badge="BADGE-1", pin=PIN)
    assert (info.username, info.role, info.full_name, info.badge_code, info.has_pin, info.active) == (
        "rita", "receiver", "Rita Receiver", "BADGE-1", True, True)
    add_user(store, "adam", "admin")
    listed = users.list_users(store, SETUP)
    assert [u.username for u in listed] == ["adam", "rita"]
    assert "password_hash" not in listed[0].to_dict() and "pin_hash" not in listed[0].to_dict()
    assert auth.sign_in_badge(store, "BADGE-1", PIN, station="s").actor.username == "rita"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("", "picker", PASSWORD), {}, BadInput, "needs a name"),
        (("two words", "picker", PASSWORD), {}, BadInput, "spaces"),
        (("cli:root", "picker", PASSWORD), {}, BadInput, "reserved"),
        (("system", "picker", PASSWORD), {}, BadInput, "reserved"),
        (("rita", "boss", PASSWORD), {}, BadInput, "role must be one of"),
        (("rita", "picker", "short"), {}, BadInput, "at least 8"),
        (("rita", "picker", PASSWORD), {"badge": "BADGE-1"}, BadInput, "give both or neither"),
        (("rita", "picker", PASSWORD), {"badge": "BADGE-1", "pin": "12ab"}, BadInput, "4 to 12 digits"),
        (("rita", "picker", PASSWORD), {"badge": "B1", "pin": PIN}, BadInput, "badge code"),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_created(store, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        users.add_user(store, SETUP, *args, **kwargs)
    assert users.list_users(store, SETUP) == []


def test_duplicate_names_and_badges_are_refused(store):
    add_user(store, "rita", badge="BADGE-1", pin=PIN)
    with pytest.raises(RuleViolation, match="already exists"):
        add_user(store, "rita")
    with pytest.raises(RuleViolation, match="already belongs"):
        add_user(store, "pat", badge="BADGE-1", pin=PIN)
    add_user(store, "pat")
    with pytest.raises(RuleViolation, match="already belongs"):
        users.set_badge_pin(store, SETUP, "pat", "BADGE-1", PIN)


def test_unknown_user_is_a_clear_error(store):
    for change in (users.disable, users.enable, users.unlock):
        with pytest.raises(NotFound, match="unknown user 'ghost'"):
            change(store, SETUP, "ghost")


def test_password_change_takes_effect_and_the_old_one_stops_working(store):
    add_user(store, "rita")
    users.set_password(store, SETUP, "rita", "brand-new-password")
    with pytest.raises(auth.AuthError):
        auth.sign_in(store, "rita", PASSWORD, station="s")
    assert auth.sign_in(store, "rita", "brand-new-password", station="s")


def test_users_may_change_their_own_password_but_nobody_elses(store):
    add_user(store, "rita")
    add_user(store, "pat")
    rita = auth.sign_in(store, "rita", PASSWORD, station="s").actor
    users.set_password(store, rita, "rita", "ritas-new-password")
    with pytest.raises(PermissionDenied):
        users.set_password(store, rita, "pat", "stolen-password")
    assert auth.sign_in(store, "pat", PASSWORD, station="s")


def test_badge_can_be_replaced_and_removed(store):
    add_user(store, "rita", badge="BADGE-1", pin=PIN)
    users.set_badge_pin(store, SETUP, "rita", "BADGE-2", "98765")
    with pytest.raises(auth.AuthError):
        auth.sign_in_badge(store, "BADGE-1", PIN, station="s")
    assert auth.sign_in_badge(store, "BADGE-2", "98765", station="s")
    users.set_badge_pin(store, SETUP, "rita", None, None)
    with pytest.raises(auth.AuthError):
        auth.sign_in_badge(store, "BADGE-2", "98765", station="s")
    with pytest.raises(BadInput, match="needs a PIN"):
        users.set_badge_pin(store, SETUP, "rita", "BADGE-3", None)


def test_the_last_active_administrator_stays(store):
    add_user(store, "adam", "admin")
    with pytest.raises(RuleViolation, match="last active administrator"):
        users.disable(store, SETUP, "adam")
    with pytest.raises(RuleViolation, match="last active administrator"):
        users.set_role(store, SETUP, "adam", "manager")
    add_user(store, "eve", "admin")
    users.set_role(store, SETUP, "adam", "manager")
    with pytest.raises(RuleViolation):
        users.disable(store, SETUP, "eve")
    assert {(u.username, u.role, u.active) for u in users.list_users(store, SETUP)} == {
        ("adam", "manager", True), ("eve", "admin", True)}


def test_changes_are_audited_with_before_and_after(store):
    add_user(store, "rita", "picker")
    users.set_role(store, SETUP, "rita", "receiver")
    users.disable(store, SETUP, "rita")
    users.enable(store, SETUP, "rita")
    with store.read() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.target, AuditEntry.summary, AuditEntry.username)
            .where(AuditEntry.action.startswith("user.")).order_by(AuditEntry.id)
        ).all()
    assert [(r.action, r.target, r.summary, r.username) for r in rows] == [
        ("user.add", "rita", "role picker", "setup-admin"),
        ("user.role", "rita", "role picker -> receiver", "setup-admin"),
        ("user.disable", "rita", "active -> disabled", "setup-admin"),
        ("user.enable", "rita", "disabled -> active", "setup-admin"),
    ]


def test_no_password_pin_or_hash_reaches_the_audit_log_or_the_logs(store, caplog):
    caplog.set_level(logging.DEBUG)
    secret_password, secret_pin = "Sup3r-Secret-Passw0rd", "918273"
    users.add_user(store, SETUP, "rita", "picker", secret_password, badge="BADGE-1", pin=secret_pin)
    users.set_password(store, SETUP, "rita", secret_password + "2")
    users.set_badge_pin(store, SETUP, "rita", "BADGE-1", secret_pin[::-1])
    auth.sign_in(store, "rita", secret_password + "2", station="s")
    for wrong in (secret_password, "Another-Secret-1"):
        with pytest.raises(auth.AuthError):
            auth.sign_in(store, "rita", wrong, station="s")
    with pytest.raises(auth.AuthError):
        auth.sign_in_badge(store, "BADGE-1", secret_pin, station="s")
    recorded = audit_text(store) + "\n" + caplog.text
    secrets = [secret_password, secret_password + "2", "Another-Secret-1", secret_pin, secret_pin[::-1], *hashes(store)]
    assert not [s for s in secrets if s in recorded]
    assert "$argon2" not in recorded
