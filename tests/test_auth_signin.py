"""Signing in: passwords, badges, lockout and unlock, unknown names, disabled users, rehashing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from argon2 import PasswordHasher, extract_parameters, profiles
from sqlalchemy import select, update

from ims_tui.db.models import AuditEntry, User
from ims_tui.services import auth, passwords, users
from ims_tui.services.auth import AccountLocked
from ims_tui.services.errors import AuthError, PermissionDenied, RuleViolation
from ims_tui.services.permissions import Permission, check
from tests.auth_support import PASSWORD, PIN, SETUP, add_user, fast_hashing  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fast_hashing")


def audit_rows(store, **where):
    with store.read() as session:
        query = select(AuditEntry.__table__).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return session.execute(query).all()


def user_row(store, username):
    with store.read() as session:
        return session.execute(select(User.__table__).where(User.username == username)).one()


def fail(store, username, password="wrong-password", **kwargs):
    with pytest.raises(AuthError) as caught:
        auth.sign_in(store, username, password, station="st-1", **kwargs)
    return caught.value


# --- passwords ---------------------------------------------------------------------------------


def test_password_sign_in_gives_the_actor_and_is_audited(store):
    add_user(store, "rita", "receiver")
    result = auth.sign_in(store, "rita", PASSWORD, station="dock-1")
    assert (result.actor.username, result.actor.role, result.actor.station) == ("rita", "receiver", "dock-1")
    assert result.actor.user_id == user_row(store, "rita").id
    assert result.previous_login_at is None
    [entry] = audit_rows(store, action="signin")
    assert (entry.username, entry.role, entry.station, entry.outcome) == ("rita", "receiver", "dock-1", "ok")
    again = auth.sign_in(store, "rita", PASSWORD, station="dock-1")
    assert again.previous_login_at is not None


def test_wrong_password_and_unknown_user_get_the_same_message(store):
    add_user(store, "rita")
    wrong = fail(store, "rita")
    unknown = fail(store, "nobody")
    assert str(wrong) == str(unknown) == auth.FAILED_PASSWORD
    assert type(wrong) is type(unknown) is AuthError


def test_five_failures_lock_the_account_even_against_the_right_password(store):
    add_user(store, "rita")
    for _ in range(4):
        assert not isinstance(fail(store, "rita"), AccountLocked)
    locked = fail(store, "rita")
    assert isinstance(locked, AccountLocked)
    assert "locked until" in str(locked)
    assert dt.timedelta(minutes=14) < locked.until - users.utcnow() <= dt.timedelta(minutes=15)
    still = fail(store, "rita", PASSWORD)
    assert isinstance(still, AccountLocked) and still.until == locked.until
    assert [e.outcome for e in audit_rows(store, action="signin.lockout")] == ["locked"]
    assert [e.outcome for e in audit_rows(store, action="signin.refused")] == ["locked"]


def test_lockout_threshold_and_duration_are_configurable(store):
    add_user(store, "rita")
    fail(store, "rita", max_failed=2, lockout_minutes=60)
    locked = fail(store, "rita", max_failed=2, lockout_minutes=60)
    assert isinstance(locked, AccountLocked)
    assert locked.until - users.utcnow() > dt.timedelta(minutes=59)


def test_a_lock_runs_out_and_the_count_starts_again(store):
    add_user(store, "rita")
    for _ in range(5):
        fail(store, "rita")
    with store.write() as session:  # fifteen minutes pass
        session.execute(update(User).where(User.username == "rita").values(locked_until=users.utcnow() - dt.timedelta(seconds=1)))
    assert not isinstance(fail(store, "rita"), AccountLocked)
    assert user_row(store, "rita").failed_attempts == 1
    assert auth.sign_in(store, "rita", PASSWORD, station="st").actor.username == "rita"
    assert user_row(store, "rita").failed_attempts == 0


def test_success_resets_the_failure_count(store):
    add_user(store, "rita")
    for _ in range(4):
        fail(store, "rita")
    auth.sign_in(store, "rita", PASSWORD, station="st")
    for _ in range(4):
        assert not isinstance(fail(store, "rita"), AccountLocked)


def test_an_administrator_unlocks_a_locked_account(store):
    add_user(store, "rita")
    for _ in range(5):
        fail(store, "rita")
    users.unlock(store, SETUP, "rita")
    assert auth.sign_in(store, "rita", PASSWORD, station="st").actor.username == "rita"
    [entry] = audit_rows(store, action="user.unlock")
    assert entry.target == "rita" and "5 -> 0" in entry.summary


def test_unknown_names_lock_out_like_real_ones_and_are_never_written_down(store):
    """Otherwise 'locked' after five tries would tell a script which names exist."""
    typed = "hunter2-secret"  # a password typed into the name field must not reach the audit log
    outcomes = [fail(store, typed) for _ in range(6)]
    assert [type(o) for o in outcomes] == [AuthError] * 4 + [AccountLocked] * 2
    assert "locked until" in str(outcomes[-1])
    rows = audit_rows(store)
    assert not any(typed in f"{r.username} {r.target} {r.summary}" for r in rows)
    assert {r.username for r in rows if r.action.startswith("signin")} == {auth.UNKNOWN}
    # another unknown name has its own count
    assert type(fail(store, "someone-else")) is AuthError


def test_real_and_unknown_lockouts_read_the_same(store):
    add_user(store, "rita")
    real = [fail(store, "rita") for _ in range(6)]
    fake = [fail(store, "ghost") for _ in range(6)]
    assert [type(e) for e in real] == [type(e) for e in fake]
    assert [str(e) for e in real[:4]] == [str(e) for e in fake[:4]]
    assert str(real[-1]).split(" until ")[0] == str(fake[-1]).split(" until ")[0]


class CountingHasher(PasswordHasher):
    """The real hasher, noting the parameters of every hash it verifies against."""

    def __init__(self) -> None:
        cheap = profiles.CHEAPEST
        super().__init__(time_cost=cheap.time_cost, memory_cost=cheap.memory_cost, parallelism=cheap.parallelism,
                         hash_len=cheap.hash_len, salt_len=cheap.salt_len, type=cheap.type)
        self.verified: list = []

    def verify(self, hash, password):  # noqa: A002 - argon2-cffi's parameter name
        self.verified.append(extract_parameters(hash if isinstance(hash, str) else hash.decode()))
        return super().verify(hash, password)


def test_an_unknown_user_costs_one_verification_with_the_current_parameters(store, monkeypatch):
    add_user(store, "rita", badge="BADGE-7", pin=PIN)
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "hasher", hasher)
    current = extract_parameters(hasher.hash("x"))
    auth.dummy_hash()  # made once per parameter set, like the first real sign-in would
    attempts = {
        "known, wrong": lambda: fail(store, "rita"),
        "unknown": lambda: fail(store, "nobody"),
        "empty name": lambda: fail(store, ""),
        "known badge, wrong PIN": lambda: pytest.raises(AuthError, auth.sign_in_badge, store, "BADGE-7", "0000", station="s"),
        "unknown badge": lambda: pytest.raises(AuthError, auth.sign_in_badge, store, "BADGE-9", "0000", station="s"),
        "known, right": lambda: auth.sign_in(store, "rita", PASSWORD, station="s"),
    }
    for name, attempt in attempts.items():
        hasher.verified.clear()
        attempt()
        assert [p.memory_cost for p in hasher.verified] == [current.memory_cost], name
        assert hasher.verified == [current], name


def test_a_disabled_user_fails_like_a_wrong_password(store):
    add_user(store, "rita")
    users.disable(store, SETUP, "rita")
    refused = fail(store, "rita", PASSWORD)
    assert type(refused) is AuthError and str(refused) == auth.FAILED_PASSWORD
    [entry] = audit_rows(store, action="signin.failed")
    assert "disabled" in entry.summary and entry.outcome == "failed"
    users.enable(store, SETUP, "rita")
    assert auth.sign_in(store, "rita", PASSWORD, station="st").actor.username == "rita"


def test_disabling_takes_rights_from_an_open_session(store):
    add_user(store, "rita", "receiver")
    actor = auth.sign_in(store, "rita", PASSWORD, station="st").actor
    check(store, actor, Permission.RECEIVE)
    users.set_role(store, SETUP, "rita", "auditor")
    with pytest.raises(PermissionDenied, match="role auditor"):
        check(store, actor, Permission.RECEIVE)
    users.disable(store, SETUP, "rita")
    with pytest.raises(PermissionDenied, match="disabled"):
        check(store, actor, Permission.LOOKUP)
    assert [e.outcome for e in audit_rows(store, username="rita", outcome="denied")] == ["denied", "denied"]


# --- rehash on parameter change ----------------------------------------------------------------


def test_a_hash_with_old_parameters_is_upgraded_on_the_next_successful_sign_in(store, monkeypatch):
    add_user(store, "rita", badge="BADGE-7", pin=PIN)  # made with the cheapest profile
    old = user_row(store, "rita")
    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", stronger)
    assert stronger.check_needs_rehash(old.password_hash)

    fail(store, "rita")  # a failure changes nothing
    assert user_row(store, "rita").password_hash == old.password_hash

    result = auth.sign_in(store, "rita", PASSWORD, station="st")
    new = user_row(store, "rita")
    assert result.rehashed
    assert new.password_hash != old.password_hash and not stronger.check_needs_rehash(new.password_hash)
    assert extract_parameters(new.password_hash).memory_cost == 1024
    assert new.pin_hash == old.pin_hash  # the PIN is upgraded when it is used
    assert "password hash upgraded" in audit_rows(store, action="signin")[-1].summary
    assert PASSWORD not in audit_rows(store, action="signin")[-1].summary

    assert auth.sign_in_badge(store, "BADGE-7", PIN, station="st").rehashed
    assert not stronger.check_needs_rehash(user_row(store, "rita").pin_hash)
    assert not auth.sign_in(store, "rita", PASSWORD, station="st").rehashed


def test_the_default_hasher_flags_the_cheap_test_hashes():
    """The production hasher (argon2-cffi defaults) would upgrade what the tests store."""
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("x")
    assert PasswordHasher().check_needs_rehash(cheap)


# --- badges -----------------------------------------------------------------------------------


def test_badge_and_pin_sign_in(store):
    add_user(store, "pat", "picker", badge="BADGE-0042", pin=PIN)
    result = auth.sign_in_badge(store, " BADGE-0042 ", PIN, station="pick-1")
    assert (result.actor.username, result.actor.role) == ("pat", "picker")
    assert audit_rows(store, action="signin")[-1].summary == "badge"


def test_badge_failures_do_not_say_which_part_was_wrong_and_count_towards_lockout(store):
    add_user(store, "pat", "picker", badge="BADGE-0042", pin=PIN)
    add_user(store, "nopin")
    messages = set()
    for badge in ("BADGE-0042", "BADGE-9999", "", "nopin"):
        with pytest.raises(AuthError) as caught:
            auth.sign_in_badge(store, badge, "0000", station="s")
        messages.add(str(caught.value))
    assert messages == {auth.FAILED_BADGE}
    for _ in range(3):
        with pytest.raises(AuthError):
            auth.sign_in_badge(store, "BADGE-0042", "9999", station="s")
    with pytest.raises(AccountLocked):
        auth.sign_in_badge(store, "BADGE-0042", "1111", station="s")
    with pytest.raises(AccountLocked):  # the account is locked, not just its badge
        auth.sign_in(store, "pat", PASSWORD, station="s")


# --- the idle-lock check ------------------------------------------------------------------------


def test_unlock_accepts_the_users_password_or_pin_and_counts_failures(store):
    add_user(store, "pat", "picker", badge="BADGE-0042", pin=PIN)
    actor = auth.sign_in(store, "pat", PASSWORD, station="s").actor
    assert auth.verify_unlock(store, actor, PASSWORD).actor == actor
    assert auth.verify_unlock(store, actor, PIN).actor == actor
    for _ in range(4):
        with pytest.raises(AuthError, match=auth.FAILED_UNLOCK):
            auth.verify_unlock(store, actor, "nope")
    with pytest.raises(AccountLocked):
        auth.verify_unlock(store, actor, "nope")
    with pytest.raises(AccountLocked):
        auth.verify_unlock(store, actor, PASSWORD)
    assert [e.summary.split(":")[0] for e in audit_rows(store, action="signin")][1:] == ["unlock (password)", "unlock (PIN)"]


def test_unlock_refuses_a_user_disabled_while_the_station_was_locked(store):
    add_user(store, "pat")
    actor = auth.sign_in(store, "pat", PASSWORD, station="s").actor
    users.disable(store, SETUP, "pat")
    with pytest.raises(AuthError, match=auth.FAILED_UNLOCK):
        auth.verify_unlock(store, actor, PASSWORD)


# --- the first administrator -------------------------------------------------------------------


def test_the_first_administrator_is_created_once(store):
    assert auth.needs_first_admin(store)
    result = auth.create_first_admin(store, "boss", "first-admin-pw", station="office")
    assert (result.actor.username, result.actor.role) == ("boss", "admin")
    assert not auth.needs_first_admin(store)
    assert auth.sign_in(store, "boss", "first-admin-pw", station="office").actor.role == "admin"
    with pytest.raises(RuleViolation, match="already has users"):
        auth.create_first_admin(store, "intruder", "intruder-pw", station="office")
    assert [e.action for e in audit_rows(store, username="boss")][:2] == ["user.add", "signin"]


def test_the_first_administrator_cannot_be_created_on_a_store_with_users(store):
    add_user(store, "rita")
    assert not auth.needs_first_admin(store)
    with pytest.raises(RuleViolation):
        auth.create_first_admin(store, "boss", "first-admin-pw", station="office")


def test_first_administrator_needs_a_real_password(store):
    with pytest.raises(Exception, match="at least 8 characters"):
        auth.create_first_admin(store, "boss", "short", station="office")
    assert auth.needs_first_admin(store)


def test_two_stations_racing_to_create_the_first_administrator(store):
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def station(n: int) -> None:
        barrier.wait()
        try:
            auth.create_first_admin(store, f"admin{n}", "first-admin-pw", station=f"st{n}")
            outcomes.append("created")
        except RuleViolation:
            outcomes.append("refused")

    threads = [threading.Thread(target=station, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    with store.read() as session:
        assert len(session.scalars(select(User)).all()) == 1


# --- demo stores -------------------------------------------------------------------------------


def test_only_a_demo_store_lists_its_users(sqlite_url):
    from ims_tui.db.engine import Store
    from ims_tui.services.demo import load_demo
    from tests.conftest import open_store

    plain = open_store(sqlite_url)
    add_user(plain, "rita")
    assert not auth.is_demo_store(plain) and auth.demo_user_names(plain) == []
    plain.dispose()

    demo = Store(sqlite_url.replace("store.db", "demo.db"))
    load_demo(demo)
    assert auth.is_demo_store(demo)
    listed = auth.demo_user_names(demo)
    assert [(u.username, u.role) for u in listed] == [
        ("admin", "admin"), ("manager", "manager"), ("receiver", "receiver"), ("picker", "picker"), ("auditor", "auditor"),
    ]
    assert listed[0].badge_code == "BADGE-0001"
    assert auth.sign_in_badge(demo, "BADGE-0003", "1234", station="s").actor.username == "receiver"
    demo.dispose()
