"""Public keys that sign users in to ``ims serve ssh``: add, list, remove, and find by key.

A key is stored as its OpenSSH line (type, base64 blob, comment) with its SHA256 fingerprint,
the same text ``ssh-keygen -lf`` prints, which is how ``ims user key remove`` names it.  A key
belongs to one user only.  Managing keys needs MANAGE_USERS, except that a signed-in user may
add and remove their own.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import User, UserSshKey
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.permissions import Permission, check

KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def line(self) -> str:
        return f"{self.key_type} {base64.b64encode(self.blob).decode()}" + (f" {self.comment}" if self.comment else "")


@dataclass(frozen=True)
class KeyInfo:
    username: str
    fingerprint: str
    key_type: str
    comment: str

    def to_dict(self) -> dict[str, str]:
        return {"username": self.username, "fingerprint": self.fingerprint, "type": self.key_type, "comment": self.comment}


def fingerprint(blob: bytes) -> str:
    """``SHA256:...`` as OpenSSH prints it (unpadded base64 of the key blob's SHA-256)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_public_key(text: str) -> PublicKey:
    """One OpenSSH public key line (``ssh-ed25519 AAAA... comment``); the first key of a file."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0] not in KEY_TYPES:
            raise BadInput("not an OpenSSH public key line (expected e.g. 'ssh-ed25519 AAAA... comment'; "
                           "give the .pub file, never the private key)")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise BadInput("the public key's base64 part is damaged") from None
        # the blob starts with its own type name: a line whose parts disagree is refused
        if len(blob) < 4 or blob[4:4 + int.from_bytes(blob[:4], "big")] != parts[0].encode():
            raise BadInput("the public key's type does not match its data")
        return PublicKey(parts[0], blob, parts[2].strip() if len(parts) > 2 else "")
    raise BadInput("no public key in the file")


def read_public_key_file(path: str | Path) -> PublicKey:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    if "PRIVATE KEY" in text:
        raise BadInput(f"{path} is a private key: give the .pub file")
    return parse_public_key(text)


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username.strip())).one_or_none()
    if user is None:
        raise NotFound(f"unknown user {username.strip()!r}")
    return user


def _check(store: Store, actor: Actor, username: str) -> None:
    if not (actor.user_id is not None and actor.username == username.strip()):
        check(store, actor, Permission.MANAGE_USERS, username)


def add_key(store: Store, actor: Actor, username: str, key: PublicKey) -> KeyInfo:
    _check(store, actor, username)
    with store.write() as session:
        user = _user(session, username)
        owner = session.scalar(select(User.username).join(UserSshKey, UserSshKey.user_id == User.id)
                               .where(UserSshKey.fingerprint == key.fingerprint))
        if owner is not None:
            raise RuleViolation(f"key {key.fingerprint} is already registered" + (" to this user" if owner == user.username else " to another user"))
        session.add(UserSshKey(user_id=user.id, fingerprint=key.fingerprint, key_type=key.key_type,
                               public_key=key.line, comment=key.comment[:200]))
        audit.record(session, actor, "user.key.add", user.username, f"{key.key_type} {key.fingerprint}" + (f" ({key.comment})" if key.comment else ""))
        return KeyInfo(user.username, key.fingerprint, key.key_type, key.comment)


def list_keys(store: Store, actor: Actor, username: str) -> list[KeyInfo]:
    _check(store, actor, username)
    with store.read() as session:
        user = _user(session, username)
        rows = session.scalars(select(UserSshKey).where(UserSshKey.user_id == user.id).order_by(UserSshKey.id)).all()
        return [KeyInfo(user.username, row.fingerprint, row.key_type, row.comment) for row in rows]


def remove_key(store: Store, actor: Actor, username: str, key_fingerprint: str) -> None:
    _check(store, actor, username)
    wanted = key_fingerprint.strip()
    if wanted and not wanted.startswith("SHA256:"):
        wanted = "SHA256:" + wanted
    with store.write() as session:
        user = _user(session, username)
        row = session.scalars(select(UserSshKey).where(UserSshKey.user_id == user.id, UserSshKey.fingerprint == wanted)).one_or_none()
        if row is None:
            raise NotFound(f"{user.username} has no key {wanted} (see 'ims user key list {user.username}')")
        session.delete(row)
        audit.record(session, actor, "user.key.remove", user.username, f"{row.key_type} {row.fingerprint}")


def user_for_key(store: Store, blob: bytes) -> str | None:
    """The active user a public key (its wire blob) belongs to, or None."""
    with store.read() as session:
        return session.scalar(
            select(User.username).join(UserSshKey, UserSshKey.user_id == User.id)
            .where(UserSshKey.fingerprint == fingerprint(blob), User.active.is_(True))
        )
