"""The store's own settings (site policy), kept in ``store_meta`` and changed only by administrators.

Security policy - how many failed sign-ins lock an account, for how long, and after how many idle
minutes a station locks - lives here, not in each station's file: a station file may make it
stricter, never weaker (:func:`effective_policy`).  Every change is audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import StoreMeta
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check

SECURITY_PREFIX = "security."


@dataclass(frozen=True)
class SecurityPolicy:
    max_failed_logins: int = 5
    lockout_minutes: float = 15.0
    idle_lock_minutes: float = 5.0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        idle = f"{self.idle_lock_minutes:g} idle minutes" if self.idle_lock_minutes else "never when idle"
        return (f"accounts lock after {self.max_failed_logins} failed sign-ins, for {self.lockout_minutes:g} minutes; "
                f"stations lock after {idle}")


# Each setting's bounds: no policy an administrator types can switch the lockout off.
_BOUNDS = {"max_failed_logins": (1, 100), "lockout_minutes": (1, 24 * 60), "idle_lock_minutes": (0, 24 * 60)}


def security_policy(session: Session) -> SecurityPolicy:
    """The store's policy (defaults for what was never set)."""
    rows = session.execute(select(StoreMeta.key, StoreMeta.value).where(StoreMeta.key.startswith(SECURITY_PREFIX)))
    values = {key.removeprefix(SECURITY_PREFIX): value for key, value in rows}
    policy = SecurityPolicy()
    for name, text in values.items():
        if name in _BOUNDS:
            policy = replace(policy, **{name: type(getattr(policy, name))(float(text))})
    return policy


def read_security_policy(store: Store) -> SecurityPolicy:
    with store.read() as session:
        return security_policy(session)


def effective_policy(store_policy: SecurityPolicy, *, max_failed_logins: int | None = None,
                     lockout_minutes: float | None = None, idle_lock_minutes: float | None = None) -> SecurityPolicy:
    """The store's policy made stricter by a station's own values, never weaker: fewer failures,
    a longer lockout, a shorter idle time (0 - never lock - only where the store allows it)."""
    policy = store_policy
    if max_failed_logins is not None:
        policy = replace(policy, max_failed_logins=min(policy.max_failed_logins, max(1, int(max_failed_logins))))
    if lockout_minutes is not None:
        policy = replace(policy, lockout_minutes=max(policy.lockout_minutes, lockout_minutes))
    if idle_lock_minutes:
        idle = policy.idle_lock_minutes
        policy = replace(policy, idle_lock_minutes=min(idle, idle_lock_minutes) if idle else idle_lock_minutes)
    return policy


def show(store: Store, actor: Actor) -> dict:
    """Every store setting, for ``ims settings show``."""
    check(store, actor, Permission.LOOKUP, "settings")
    with store.read() as session:
        policy = security_policy(session)
    return {"security": policy.to_dict()}


def set_security(store: Store, actor: Actor, **changes: float | None) -> SecurityPolicy:
    """Change the store's security policy (administrators); audited with before and after."""
    check(store, actor, Permission.MANAGE_SETTINGS, "security policy")
    wanted = {name: value for name, value in changes.items() if value is not None}
    if not wanted:
        raise BadInput("nothing to change: give --max-failed-logins, --lockout-minutes or --idle-lock-minutes")
    for name, value in wanted.items():
        low, high = _BOUNDS[name]
        if not low <= value <= high:
            raise BadInput(f"{name.replace('_', '-')} must be from {low} to {high}, not {value:g}")
    with store.write() as session:
        before = security_policy(session)
        after = replace(before, **{name: type(getattr(before, name))(value) for name, value in wanted.items()})
        for name in wanted:
            row = session.get(StoreMeta, SECURITY_PREFIX + name)
            text = f"{getattr(after, name):g}"
            if row is None:
                session.add(StoreMeta(key=SECURITY_PREFIX + name, value=text))
            else:
                row.value = text
        summary = "; ".join(f"{name}: {getattr(before, name):g} -> {getattr(after, name):g}" for name in wanted)
        audit.record(session, actor, "settings.security", "security policy", summary)
    return after
