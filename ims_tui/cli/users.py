"""``ims user add|list|passwd|badge|disable|enable|unlock|role|key``.

Secrets never come from an argument (they would sit in shell history and ``ps``): they are
asked for twice on a terminal, or read from stdin with ``--password-stdin`` / ``--pin-stdin``
(with both, the first line is the password and the second the PIN).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.db.models import ROLES
from ims_tui.services import ssh_keys, users
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check


def register(subparsers: argparse._SubParsersAction) -> None:
    user = subparsers.add_parser("user", help="user accounts, roles, badges and lockouts")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION")

    add = actions.add_parser("add", help="create a user (password asked, or from stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--full-name", default="", metavar="TEXT")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--badge", metavar="CODE", help="badge code for badge + PIN sign-in (the PIN is asked for)")
    add.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin (after the password line, if any)")
    add_json_flag(add)
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="users with role, badge, state and last sign-in")
    add_json_flag(listing)
    listing.set_defaults(handler=cmd_list)

    passwd = actions.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd.set_defaults(handler=cmd_passwd)

    badge = actions.add_parser("badge", help="set a user's badge and PIN, or remove badge sign-in")
    badge.add_argument("name")
    badge.add_argument("code", nargs="?", help="the badge code (scan it into the terminal)")
    badge.add_argument("--pin-stdin", action="store_true", help="read the PIN from the first line of stdin")
    badge.add_argument("--remove", action="store_true", help="take badge sign-in away")
    badge.set_defaults(handler=cmd_badge)

    for name, text, handler in (
        ("disable", "stop a user from signing in (open sessions lose their rights at once)", cmd_disable),
        ("enable", "let a disabled user sign in again", cmd_enable),
        ("unlock", "lift a lockout after failed sign-ins", cmd_unlock),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("name")
        parser.set_defaults(handler=handler)

    key = actions.add_parser("key", help="public keys that sign a user in to 'ims serve ssh'")
    key_actions = key.add_subparsers(dest="key_command", metavar="ACTION")
    key_add = key_actions.add_parser("add", help="register an OpenSSH public key (.pub file) to a user")
    key_add.add_argument("name")
    key_add.add_argument("file", help="the .pub file ('-' reads stdin)")
    add_json_flag(key_add)
    key_add.set_defaults(handler=cmd_key_add)
    key_list = key_actions.add_parser("list", help="a user's keys with their SHA256 fingerprints")
    key_list.add_argument("name")
    add_json_flag(key_list)
    key_list.set_defaults(handler=cmd_key_list)
    key_remove = key_actions.add_parser("remove", help="take a key away (by its fingerprint)")
    key_remove.add_argument("name")
    key_remove.add_argument("fingerprint")
    key_remove.set_defaults(handler=cmd_key_remove)

    role = actions.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=cmd_role)


class _Secrets:
    """Reads secrets from stdin lines in order, or asks on the terminal (twice, to catch typos)."""

    def __init__(self) -> None:
        self._stdin_lines = 0

    def read(self, what: str, *, from_stdin: bool, user: str) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            self._stdin_lines += 1
            if not line:
                raise BadInput(f"no {what} on stdin (line {self._stdin_lines} was empty or missing)")
            return line.rstrip("\r\n")
        if not sys.stdin.isatty():
            raise BadInput(f"no {what}: use --{what.lower()}-stdin, or run from a terminal to be asked")
        first = getpass.getpass(f"new {what} for {user}: ")
        if getpass.getpass(f"repeat the {what}: ") != first:
            raise BadInput(f"the two {what}s differ; nothing changed")
        return first


def _may_set_secrets(ctx: CliContext, actor: Actor, name: str, *, own_ok: bool = False) -> None:
    """Refuse before a secret is read: someone who may not manage users is never asked for one."""
    if own_ok and actor.user_id is not None and actor.username == name.strip():
        return
    check(ctx.store, actor, Permission.MANAGE_USERS, name)


def cmd_add(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.pin_stdin and not args.badge:
        raise BadInput("--pin-stdin needs --badge CODE: a PIN is for badge sign-in")
    actor = ctx.actor  # sign in (and be refused) before asking for the new secrets
    _may_set_secrets(ctx, actor, args.name)
    secrets = _Secrets()
    password = secrets.read("password", from_stdin=args.password_stdin, user=args.name)
    pin = secrets.read("PIN", from_stdin=args.pin_stdin, user=args.name) if args.badge else None
    info = users.add_user(
        ctx.store, actor, args.name, args.role, password, full_name=args.full_name, badge=args.badge, pin=pin
    )
    ctx.emit(info.to_dict(), f"user {info.username} added as {info.role}" + (f" with badge {info.badge_code}" if info.badge_code else ""))
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    found = users.list_users(ctx.store, ctx.actor)
    lines = [f"{'USER':<16} {'ROLE':<9} {'STATE':<22} {'BADGE':<14} LAST SIGN-IN"]
    for info in found:
        if not info.active:
            state = "disabled"
        elif info.is_locked():
            state = f"locked until {info.locked_until.astimezone():%H:%M}"
        else:
            state = "active"
        last = f"{info.last_login_at.astimezone():%Y-%m-%d %H:%M}" if info.last_login_at else "never"
        lines.append(f"{info.username:<16} {info.role:<9} {state:<22} {info.badge_code or '-':<14} {last}")
    ctx.emit([info.to_dict() for info in found], "\n".join(lines))
    return 0


def cmd_passwd(ctx: CliContext, args: argparse.Namespace) -> int:
    actor = ctx.actor  # sign in (and be refused) before asking for the new password
    _may_set_secrets(ctx, actor, args.name, own_ok=True)
    password = _Secrets().read("password", from_stdin=args.password_stdin, user=args.name)
    users.set_password(ctx.store, actor, args.name, password)
    ctx.emit({"username": args.name, "password": "changed"}, f"password of {args.name} changed")
    return 0


def cmd_badge(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.remove == bool(args.code):
        raise BadInput("give a badge CODE, or --remove")
    if args.remove:
        users.set_badge_pin(ctx.store, ctx.actor, args.name, None, None)
        ctx.emit({"username": args.name, "badge": None}, f"badge sign-in removed from {args.name}")
        return 0
    actor = ctx.actor
    _may_set_secrets(ctx, actor, args.name)
    pin = _Secrets().read("PIN", from_stdin=args.pin_stdin, user=args.name)
    users.set_badge_pin(ctx.store, actor, args.name, args.code, pin)
    ctx.emit({"username": args.name, "badge": args.code.strip()}, f"{args.name} now signs in with badge {args.code.strip()} and a PIN")
    return 0


def cmd_disable(ctx: CliContext, args: argparse.Namespace) -> int:
    users.disable(ctx.store, ctx.actor, args.name)
    ctx.emit({"username": args.name, "active": False}, f"user {args.name} disabled")
    return 0


def cmd_enable(ctx: CliContext, args: argparse.Namespace) -> int:
    users.enable(ctx.store, ctx.actor, args.name)
    ctx.emit({"username": args.name, "active": True}, f"user {args.name} enabled")
    return 0


def cmd_unlock(ctx: CliContext, args: argparse.Namespace) -> int:
    users.unlock(ctx.store, ctx.actor, args.name)
    ctx.emit({"username": args.name, "locked": False}, f"user {args.name} unlocked")
    return 0


def cmd_role(ctx: CliContext, args: argparse.Namespace) -> int:
    users.set_role(ctx.store, ctx.actor, args.name, args.role)
    ctx.emit({"username": args.name, "role": args.role}, f"user {args.name} is now {args.role}")
    return 0


def cmd_key_add(ctx: CliContext, args: argparse.Namespace) -> int:
    key = ssh_keys.parse_public_key(sys.stdin.read()) if args.file == "-" else ssh_keys.read_public_key_file(args.file)
    info = ssh_keys.add_key(ctx.store, ctx.actor, args.name, key)
    ctx.emit(info.to_dict(), f"key {info.fingerprint} ({info.key_type}) added to {info.username}")
    return 0


def cmd_key_list(ctx: CliContext, args: argparse.Namespace) -> int:
    found = ssh_keys.list_keys(ctx.store, ctx.actor, args.name)
    lines = [f"{'FINGERPRINT':<51} {'TYPE':<20} COMMENT"] + [
        f"{info.fingerprint:<51} {info.key_type:<20} {info.comment}" for info in found
    ]
    ctx.emit([info.to_dict() for info in found], "\n".join(lines) if found else f"{args.name} has no keys")
    return 0


def cmd_key_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    ssh_keys.remove_key(ctx.store, ctx.actor, args.name, args.fingerprint)
    ctx.emit({"username": args.name, "fingerprint": args.fingerprint, "removed": True}, f"key {args.fingerprint} removed from {args.name}")
    return 0
