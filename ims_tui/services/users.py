"""User accounts: add, list, passwords, badges and PINs, disable/enable, unlock, roles.

Every function checks :data:`Permission.MANAGE_USERS` (changing one's own password is the one
exception), hashes secrets before opening its transaction, audits the change, and never
puts a password, PIN or hash in a message, a log line or the audit trail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import ROLES, User
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.passwords import hash_secret
from ims_tui.services.permissions import Permission, check
from ims_tui.services.text import check_text

MIN_PASSWORD_LENGTH = 8
MAX_SECRET_LENGTH = 1024
PIN_LENGTHS = range(4, 13)
RESERVED_NAMES = ("system", "(unknown)")


@dataclass(frozen=True)
class UserInfo:
    """What an administrator may see about an account (never a hash)."""

    username: str
    full_name: str
    role: str
    active: bool
    badge_code: str | None
    has_pin: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime | None

    def is_locked(self, now: dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role,
            "active": self.active,
            "badge": self.badge_code,
            "has_pin": self.has_pin,
            "locked": self.is_locked(),
            "locked_until": self.locked_until,
            "failed_attempts": self.failed_attempts,
            "last_login_at": self.last_login_at,
            "created_at": self.created_at,
        }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; the store writes UTC, so naive means UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


# --- validation (also used by first-administrator creation) -----------------------------------


def validate_username(username: str) -> str:
    name = username.strip()
    if not name:
        raise BadInput("a user needs a name")
    if len(name) > 120:
        raise BadInput("a user name has at most 120 characters")
    if any(ch.isspace() for ch in name) or not name.isprintable():
        raise BadInput(f"a user name cannot contain spaces or control characters: {name!r}")
    if name.lower() in RESERVED_NAMES or name.lower().startswith("cli:"):
        raise BadInput(f"the user name {name!r} is reserved")
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_SECRET_LENGTH:
        raise BadInput(f"a password has at most {MAX_SECRET_LENGTH} characters")
    return password


def validate_pin(pin: str) -> str:
    if not pin.isdigit() or not pin.isascii() or len(pin) not in PIN_LENGTHS:
        raise BadInput(f"a PIN is {PIN_LENGTHS.start} to {PIN_LENGTHS.stop - 1} digits")
    return pin


def validate_badge(badge: str) -> str:
    code = badge.strip()
    if len(code) < 4 or len(code) > 120 or not code.isprintable():
        raise BadInput("a badge code is 4 to 120 printable characters")
    return code


# --- reading ---------------------------------------------------------------------------------


def _info(user: User) -> UserInfo:
    return UserInfo(
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        active=user.active,
        badge_code=user.badge_code,
        has_pin=user.pin_hash is not None,
        failed_attempts=user.failed_attempts,
        locked_until=as_utc(user.locked_until),
        last_login_at=as_utc(user.last_login_at),
        created_at=as_utc(user.created_at),
    )


def list_users(store: Store, actor: Actor) -> list[UserInfo]:
    check(store, actor, Permission.MANAGE_USERS, "users")
    with store.read() as session:
        return [_info(user) for user in session.scalars(select(User).order_by(User.username))]


def get_user(store: Store, actor: Actor, username: str) -> UserInfo:
    check(store, actor, Permission.MANAGE_USERS, username)
    with store.read() as session:
        return _info(_locked_user(session, username, lock=False))


def _locked_user(session: Session, username: str, *, lock: bool = True) -> User:
    query = select(User).where(User.username == username.strip())
    user = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if user is None:
        raise NotFound(f"unknown user {username.strip()!r}")
    return user


def _badge_taken(session: Session, badge: str, user_id: int | None) -> bool:
    query = select(func.count()).select_from(User).where(User.badge_code == badge)
    if user_id is not None:
        query = query.where(User.id != user_id)
    return session.scalar(query) > 0


def _keep_an_administrator(session: Session, leaving: User) -> None:
    """Refuse a change that would leave no active administrator (nobody could manage users)."""
    admins = session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()).all()
    if set(admins) <= {leaving.id}:
        raise RuleViolation(f"{leaving.username} is the last active administrator; make another one first")


# --- changing --------------------------------------------------------------------------------


def add_user(
    store: Store,
    actor: Actor,
    username: str,
    role: str,
    password: str,
    *,
    full_name: str = "",
    badge: str | None = None,
    pin: str | None = None,
) -> UserInfo:
    """Create an active account; a badge needs a PIN to be usable, so both or neither."""
    check(store, actor, Permission.MANAGE_USERS, username)
    username, role, password = validate_username(username), validate_role(role), validate_password(password)
    if (badge is None) != (pin is None):
        raise BadInput("a badge and its PIN go together: give both or neither")
    badge = validate_badge(badge) if badge is not None else None
    pin = validate_pin(pin) if pin is not None else None
    check_text("full name", full_name.strip())
    password_hash = hash_secret(password)
    pin_hash = hash_secret(pin) if pin is not None else None

    def _work(session):
        if session.scalar(select(func.count()).select_from(User).where(User.username == username)):
            raise RuleViolation(f"user {username} already exists")
        if badge is not None and _badge_taken(session, badge, None):
            raise RuleViolation(f"badge {badge} already belongs to another user")
        user = User(
            username=username, full_name=full_name.strip(), role=role, password_hash=password_hash,
            badge_code=badge, pin_hash=pin_hash, active=True, failed_attempts=0,
        )
        session.add(user)
        session.flush()
        summary = f"role {role}" + (f"; badge {badge}" if badge else "") + (f"; name {user.full_name}" if user.full_name else "")
        audit.record(session, actor, "user.add", username, summary)
        return _info(user)

    return store.transact(_work)


def set_password(store: Store, actor: Actor, username: str, password: str) -> None:
    """Set a new password.  Anyone may change their own; other accounts need MANAGE_USERS."""
    own = actor.user_id is not None and actor.username == username.strip()
    if not own:
        check(store, actor, Permission.MANAGE_USERS, username)
    password_hash = hash_secret(validate_password(password))

    def _work(session):
        user = _locked_user(session, username)
        user.password_hash = password_hash
        audit.record(session, actor, "user.passwd", user.username, "own password changed" if own else "password set")

    return store.transact(_work)


def set_badge_pin(store: Store, actor: Actor, username: str, badge: str | None, pin: str | None) -> None:
    """Give a user a badge and PIN (both), or take badge sign-in away (``badge=None``)."""
    check(store, actor, Permission.MANAGE_USERS, username)
    if badge is not None:
        badge = validate_badge(badge)
        if pin is None:
            raise BadInput("a badge needs a PIN")
    pin_hash = hash_secret(validate_pin(pin)) if badge is not None and pin is not None else None

    def _work(session):
        user = _locked_user(session, username)
        if badge is not None and _badge_taken(session, badge, user.id):
            raise RuleViolation(f"badge {badge} already belongs to another user")
        before = user.badge_code
        user.badge_code, user.pin_hash = badge, pin_hash
        summary = f"badge {before or '-'} -> {badge or '-'}; PIN {'set' if pin_hash else 'removed'}"
        audit.record(session, actor, "user.badge", user.username, summary)

    return store.transact(_work)


def disable(store: Store, actor: Actor, username: str) -> None:
    """An account that can no longer sign in; its open sessions lose every permission at once."""
    check(store, actor, Permission.MANAGE_USERS, username)

    def _work(session):
        user = _locked_user(session, username)
        if not user.active:
            return
        if user.role == "admin":
            _keep_an_administrator(session, user)
        user.active = False
        audit.record(session, actor, "user.disable", user.username, "active -> disabled")

    return store.transact(_work)


def enable(store: Store, actor: Actor, username: str) -> None:
    check(store, actor, Permission.MANAGE_USERS, username)

    def _work(session):
        user = _locked_user(session, username)
        if user.active:
            return
        user.active = True
        audit.record(session, actor, "user.enable", user.username, "disabled -> active")

    return store.transact(_work)


def unlock(store: Store, actor: Actor, username: str) -> None:
    """Clear a lockout and the failed-attempt count."""
    check(store, actor, Permission.MANAGE_USERS, username)

    def _work(session):
        user = _locked_user(session, username)
        summary = f"failed attempts {user.failed_attempts} -> 0" + ("; lock lifted" if user.locked_until else "")
        user.failed_attempts, user.locked_until = 0, None
        audit.record(session, actor, "user.unlock", user.username, summary)

    return store.transact(_work)


def set_role(store: Store, actor: Actor, username: str, role: str) -> None:
    check(store, actor, Permission.MANAGE_USERS, username)
    role = validate_role(role)

    def _work(session):
        user = _locked_user(session, username)
        if user.role == role:
            return
        if user.role == "admin":
            _keep_an_administrator(session, user)
        before, user.role = user.role, role
        audit.record(session, actor, "user.role", user.username, f"role {before} -> {role}")

    return store.transact(_work)
