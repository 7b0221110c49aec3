"""Signing in: password or badge + PIN, lockout, the first administrator, the idle-lock check.

What a failure may reveal: nothing about whether the account exists.  Every attempt costs one
argon2 verification (an unknown name or badge is verified against a dummy hash of the same
parameters), and unknown names lock out exactly like real accounts: their failures are counted
from the audit trail under a keyed digest of the typed name (never the name itself, which might
be a password typed into the wrong field).  A locked account, real or not, says "locked until
HH:MM"; a disabled account fails like a wrong password (the audit trail says which).

Hashing happens outside the transactions; each attempt then takes one short write transaction
that updates the account and audits the outcome, and only after it commits is the result
raised, so a failure is never rolled back with its audit row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import AuditEntry, StoreMeta, User
from ims_tui.services import audit, passwords
from ims_tui.services.actor import Actor
from ims_tui.services.errors import AuthError, RuleViolation
from ims_tui.services.settings import effective_policy, security_policy
from ims_tui.services.users import as_utc, utcnow, validate_password, validate_username
from ims_tui.settings import site

FAILED_PASSWORD = "sign-in failed: wrong user name or password"
FAILED_BADGE = "sign-in failed: badge not accepted or wrong PIN"
FAILED_UNLOCK = "wrong password or PIN"
UNKNOWN = "(unknown)"
# How far back failures of unknown names are counted (real accounts keep their counter).
UNKNOWN_NAME_HORIZON = dt.timedelta(hours=24)
_NAME_KEY_META = "auth_name_key"


class AccountLocked(AuthError):
    """Too many failed attempts: refused until ``until`` (or until an administrator unlocks)."""

    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        local = until.astimezone()
        when = local.strftime("%H:%M") if local.date() == dt.datetime.now().astimezone().date() else local.strftime("%Y-%m-%d %H:%M")
        super().__init__(f"too many failed sign-ins: locked until {when} (or ask an administrator to unlock)")


@dataclass(frozen=True)
class SignInResult:
    actor: Actor
    full_name: str
    previous_login_at: dt.datetime | None
    rehashed: bool


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str
    badge_code: str | None


@dataclass(frozen=True)
class _Account:
    """What an attempt needs to know, read before the (slow) hash check."""

    id: int
    username: str
    role: str
    full_name: str
    password_hash: str
    pin_hash: str | None


# --- the dummy hash: an unknown account costs what a known one costs ------------------------

_dummy_lock = threading.Lock()
_dummy_hashes: dict[tuple, str] = {}


def _hasher_key() -> tuple:
    h = passwords.hasher
    return (h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len, h.type)


def dummy_hash() -> str:
    """A hash of a random secret with the current hasher's parameters (made once per parameter set)."""
    key = _hasher_key()
    with _dummy_lock:
        if key not in _dummy_hashes:
            _dummy_hashes[key] = passwords.hash_secret(secrets.token_urlsafe(16))
        return _dummy_hashes[key]


def _verify(stored_hash: str | None, secret: str) -> bool:
    """One argon2 verification, against the dummy hash when there is nothing real to check.

    The dummy hash is fetched on every path, so whichever attempt comes first in a process pays
    for making it, known account or not.
    """
    dummy = dummy_hash()
    if stored_hash is None:
        passwords.verify_secret(dummy, secret)
        return False
    return passwords.verify_secret(stored_hash, secret)


def _rehashed(stored_hash: str, secret: str) -> str | None:
    """A fresh hash when the stored one was made with other parameters than the current ones."""
    return passwords.hash_secret(secret) if passwords.needs_rehash(stored_hash) else None


# --- reading accounts ------------------------------------------------------------------------


def _account(store: Store, *, username: str | None = None, badge: str | None = None, user_id: int | None = None) -> _Account | None:
    query = select(User.id, User.username, User.role, User.full_name, User.password_hash, User.pin_hash)
    if username is not None:
        query = query.where(User.username == username)
    elif badge is not None:
        query = query.where(User.badge_code == badge)
    else:
        query = query.where(User.id == user_id)
    with store.read() as session:
        row = session.execute(query).one_or_none()
    return _Account(*row) if row is not None else None


def _name_key(store: Store) -> bytes:
    """The store's secret for digesting unknown names (made on first need, shared by stations)."""
    with store.read() as session:
        value = session.get(StoreMeta, _NAME_KEY_META)
        if value is not None:
            return bytes.fromhex(value.value)

    def _work(session):
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(StoreMeta).values(key=_NAME_KEY_META, value=secrets.token_hex(32)).on_conflict_do_nothing(index_elements=["key"])
        )
        return bytes.fromhex(session.get(StoreMeta, _NAME_KEY_META).value)

    return store.transact(_work)


def _unknown_target(store: Store, kind: str, typed: str) -> str:
    digest = hmac.new(_name_key(store), f"{kind}:{typed.casefold()}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"unknown {kind} #{digest}"


# --- one attempt -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    result: SignInResult | None = None
    error: AuthError | None = None


def _attempt(
    store: Store,
    account: _Account | None,
    ok: bool,
    *,
    method: str,
    station: str,
    unknown_target: str,
    failure_message: str,
    max_failed: int | None,
    lockout_minutes: float | None,
    new_hashes: dict[str, str],
) -> SignInResult:
    """Record one verified attempt and turn it into a result or an error (raised after commit).

    Without an explicit ``max_failed``/``lockout_minutes`` the site's security policy applies.
    """
    policy = site().security
    max_failed = policy.max_failed_logins if max_failed is None else max_failed
    lockout_minutes = policy.lockout_minutes if lockout_minutes is None else lockout_minutes
    now = utcnow()

    def work(session: Session) -> _Outcome:
        # The store's policy rules; the station's own values may only make it stricter.
        policy = effective_policy(security_policy(session), max_failed_logins=max_failed, lockout_minutes=lockout_minutes)
        max_failed_here, lockout_here = policy.max_failed_logins, policy.lockout_minutes
        window = dt.timedelta(minutes=lockout_here)
        if account is None:
            return _unknown_attempt(session, station, unknown_target, failure_message, now, window, max_failed_here, method)
        user = session.scalars(select(User).where(User.id == account.id).with_for_update()).one()
        actor = Actor(user.username, user.role, station, user.id)
        locked_until = as_utc(user.locked_until)
        if locked_until is not None and locked_until > now:
            audit.record(session, actor, "signin.refused", user.username, f"{method}: account locked", outcome="locked")
            return _Outcome(error=AccountLocked(locked_until))
        if locked_until is not None:
            user.failed_attempts, user.locked_until = 0, None
        if not ok or not user.active:
            user.failed_attempts += 1
            why = "wrong secret" if user.active else "account disabled"
            audit.record(session, actor, "signin.failed", user.username, f"{method}: {why} ({user.failed_attempts} in a row)", outcome="failed")
            if user.failed_attempts >= max_failed_here:
                user.locked_until = now + window
                audit.record(session, actor, "signin.lockout", user.username, f"locked for {lockout_here:g} minutes after {user.failed_attempts} failures", outcome="locked")
                return _Outcome(error=AccountLocked(user.locked_until))
            return _Outcome(error=AuthError(failure_message))
        previous = as_utc(user.last_login_at)
        user.failed_attempts, user.locked_until, user.last_login_at = 0, None, now
        rehashed = []
        # Compare-and-set: a password changed meanwhile by an administrator is not overwritten.
        if "password" in new_hashes and user.password_hash == account.password_hash:
            user.password_hash = new_hashes["password"]
            rehashed.append("password")
        if "pin" in new_hashes and user.pin_hash == account.pin_hash:
            user.pin_hash = new_hashes["pin"]
            rehashed.append("PIN")
        summary = method + (f"; {' and '.join(rehashed)} hash upgraded" if rehashed else "")
        audit.record(session, actor, "signin", user.username, summary)
        return _Outcome(result=SignInResult(actor, user.full_name, previous, bool(rehashed)))

    outcome = store.transact(work)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result


def _unknown_attempt(
    session: Session, station: str, target: str, message: str, now: dt.datetime, window: dt.timedelta, max_failed: int, method: str
) -> _Outcome:
    """An unknown name or badge: counted and locked out like a real account, from the audit trail."""
    actor = Actor(UNKNOWN, "", station)
    recent = session.execute(
        select(AuditEntry.action, AuditEntry.at)
        .where(
            AuditEntry.target == target,
            AuditEntry.action.in_(("signin.failed", "signin.lockout")),
            AuditEntry.at >= now - UNKNOWN_NAME_HORIZON,
        )
        .order_by(AuditEntry.id.desc())
        .limit(max_failed + 1)
    ).all()
    failures = 0
    for action, at in recent:
        if action == "signin.lockout":
            until = as_utc(at) + window
            if until > now:
                audit.record(session, actor, "signin.refused", target, f"{method}: locked", outcome="locked")
                return _Outcome(error=AccountLocked(until))
            break
        failures += 1
    failures += 1
    audit.record(session, actor, "signin.failed", target, f"{method}: unknown ({failures} in a row)", outcome="failed")
    if failures >= max_failed:
        audit.record(session, actor, "signin.lockout", target, f"locked after {failures} failures", outcome="locked")
        return _Outcome(error=AccountLocked(now + window))
    return _Outcome(error=AuthError(message))


# --- the public entry points -----------------------------------------------------------------


def sign_in(
    store: Store, username: str, password: str, *, station: str, max_failed: int | None = None, lockout_minutes: float | None = None
) -> SignInResult:
    """Sign in with user name and password; raises :class:`AuthError` (or :class:`AccountLocked`)."""
    name = username.strip()
    account = _account(store, username=name) if name else None
    ok = _verify(account.password_hash if account else None, password)
    new_hashes = {}
    if ok and account is not None and (fresh := _rehashed(account.password_hash, password)):
        new_hashes["password"] = fresh
    return _attempt(
        store, account, ok, method="password", station=station,
        unknown_target="" if account else _unknown_target(store, "name", name),
        failure_message=FAILED_PASSWORD, max_failed=max_failed, lockout_minutes=lockout_minutes, new_hashes=new_hashes,
    )


def sign_in_badge(
    store: Store, badge: str, pin: str, *, station: str, max_failed: int | None = None, lockout_minutes: float | None = None
) -> SignInResult:
    """Sign in with a scanned badge and its PIN; failures count against the account like passwords."""
    code = badge.strip()
    account = _account(store, badge=code) if code else None
    ok = _verify(account.pin_hash if account else None, pin)
    new_hashes = {}
    if ok and account is not None and account.pin_hash and (fresh := _rehashed(account.pin_hash, pin)):
        new_hashes["pin"] = fresh
    return _attempt(
        store, account, ok, method="badge", station=station,
        unknown_target="" if account else _unknown_target(store, "badge", code),
        failure_message=FAILED_BADGE, max_failed=max_failed, lockout_minutes=lockout_minutes, new_hashes=new_hashes,
    )


def verify_unlock(
    store: Store, actor: Actor, secret: str, *, max_failed: int | None = None, lockout_minutes: float | None = None
) -> SignInResult:
    """Unlock an idle-locked station: the same user's password or PIN.  Failures count as sign-ins.

    Returns a fresh result (the role may have changed while the station was locked).
    """
    account = _account(store, user_id=actor.user_id) if actor.user_id is not None else None
    if account is None:
        _verify(None, secret)
        raise AuthError(FAILED_UNLOCK)
    ok = _verify(account.password_hash, secret)
    method = "unlock (password)"
    new_hashes = {}
    if ok:
        if fresh := _rehashed(account.password_hash, secret):
            new_hashes["password"] = fresh
    elif account.pin_hash is not None:
        ok = _verify(account.pin_hash, secret)
        method = "unlock (PIN)"
        if ok and (fresh := _rehashed(account.pin_hash, secret)):
            new_hashes["pin"] = fresh
    return _attempt(
        store, account, ok, method=method, station=actor.station, unknown_target="",
        failure_message=FAILED_UNLOCK, max_failed=max_failed, lockout_minutes=lockout_minutes, new_hashes=new_hashes,
    )


def approve_override(store: Store, badge: str, pin: str, *, station: str, target: str = "") -> str:
    """A manager's badge + PIN on the spot (the site's lockout policy applies to the PIN);
    returns the manager's user name, or raises :class:`AuthError`/``PermissionDenied``."""
    from ims_tui.services.permissions import Permission, check

    manager = sign_in_badge(store, badge, pin, station=station).actor
    check(store, manager, Permission.APPROVE_OVERRIDE, target)
    return manager.username
def sign_in_verified(
    store: Store, username: str, *, method: str, station: str, max_failed: int = 5, lockout_minutes: float = 15
) -> SignInResult:
    """Sign in a user whom something else has already authenticated: the SSH server checked their
    registered key (``method="ssh key"``), or sshd signed in the OS login of the same name
    (``"os login"``, the ForceCommand recipe).

    The same account rules as a password: a locked account is refused (and the refusal audited),
    a disabled one fails; the sign-in is audited with ``method``.
    """
    account = _account(store, username=username.strip())
    if account is None:
        raise AuthError(FAILED_PASSWORD)
    return _attempt(
        store, account, True, method=method, station=station, unknown_target="",
        failure_message=FAILED_PASSWORD, max_failed=max_failed, lockout_minutes=lockout_minutes, new_hashes={},
    )


def record_session(store: Store, actor: Actor, action: str, summary: str) -> None:
    """Audit the start or end of a served session (``ssh.session.start`` ...) with where it came from."""
    with store.write() as session:
        audit.record(session, actor, action, actor.username, summary)


def record_sign_out(store: Store, actor: Actor, reason: str = "signed out") -> None:
    """Audit the end of a station session (sign-out by key, or another user taking over)."""

    def _work(session):
        audit.record(session, actor, "signout", actor.username, reason)

    return store.transact(_work)


# --- the first administrator -----------------------------------------------------------------

_FIRST_ADMIN_META = "first_admin"


def needs_first_admin(store: Store) -> bool:
    """True on a store without any user: the station offers to create the first administrator."""
    with store.read() as session:
        return not session.scalar(select(func.count()).select_from(User))


def create_first_admin(store: Store, username: str, password: str, *, station: str, full_name: str = "") -> SignInResult:
    """Create the first administrator and sign them in; refused once any user exists.

    Two stations racing: both may hash, but the ``first_admin`` store fact is a primary key, so
    only one transaction can insert it; the other fails on it (or sees the user) and is refused.
    """
    username = validate_username(username)
    password_hash = passwords.hash_secret(validate_password(password))
    taken = RuleViolation("the store already has users: sign in instead")
    now = utcnow()

    def work(session: Session) -> SignInResult:
        session.add(StoreMeta(key=_FIRST_ADMIN_META, value=username))
        session.flush()
        if session.scalar(select(func.count()).select_from(User)):
            raise taken
        user = User(username=username, full_name=full_name.strip(), role="admin", password_hash=password_hash,
                    active=True, failed_attempts=0, last_login_at=now)
        session.add(user)
        session.flush()
        actor = Actor(user.username, user.role, station, user.id)
        audit.record(session, actor, "user.add", username, "first administrator, created at the station")
        audit.record(session, actor, "signin", username, "first administrator")
        return SignInResult(actor, user.full_name, None, False)

    try:
        return store.transact(work)
    except IntegrityError:
        raise taken from None


# --- demo stores -----------------------------------------------------------------------------

DEMO_PIN = "1234"
"""The PIN of every demo user's badge, shown on a demo store's sign-in screen."""


def is_demo_store(store: Store) -> bool:
    with store.read() as session:
        meta = session.get(StoreMeta, "demo")
        return meta is not None and meta.value == "1"


def demo_user_names(store: Store) -> list[DemoUser]:
    """The active users of a demo store, for the login screen; empty for any other store."""
    if not is_demo_store(store):
        return []
    with store.read() as session:
        rows = session.execute(
            select(User.username, User.role, User.full_name, User.badge_code).where(User.active.is_(True)).order_by(User.id)
        ).all()
    return [DemoUser(*row) for row in rows]

