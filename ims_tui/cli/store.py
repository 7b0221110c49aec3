"""``ims info``, ``ims db upgrade``, ``ims demo``, ``ims check``."""

from __future__ import annotations

import argparse
import getpass
import sys

from ims_tui import __version__
from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.db import schema
from ims_tui.db.engine import Store, redact
from ims_tui.services import demo, integrity, replenishment
from ims_tui.services.errors import BadInput, StoreError
from ims_tui.services.permissions import Permission, check


def register(subparsers: argparse._SubParsersAction) -> None:
    info = subparsers.add_parser("info", help="version, store URL (password hidden), schema revision")
    info.set_defaults(handler=cmd_info)

    db = subparsers.add_parser("db", help="schema management").add_subparsers(dest="db_command", metavar="ACTION")
    db.add_parser("upgrade", help="create or migrate the schema; idempotent").set_defaults(handler=cmd_upgrade)

    demo_parser = subparsers.add_parser("demo", help="load the demo store and one user per role")
    demo_parser.add_argument("--reset", action="store_true", help="wipe a store that holds data first")
    demo_parser.add_argument("--if-empty", action="store_true", help="load only into an empty store; else do nothing")
    demo_parser.add_argument("--confirm", metavar="NAME", help="with --reset: the store's name, to confirm (asked on a terminal)")
    demo_parser.add_argument("--force", action="store_true", help="with --reset: wipe a store that holds stock postings too")
    demo_parser.add_argument("--password-stdin", action="store_true",
                             help="read the demo users' password from stdin (default: asked on a terminal, else demo)")
    demo_parser.add_argument("--password", help=argparse.SUPPRESS)  # refused: other users see the command line
    demo_parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    demo_parser.set_defaults(handler=cmd_demo)

    check = subparsers.add_parser("check", help="verify the ledger invariants; 0 clean, 1 with the list")
    add_json_flag(check)
    check.set_defaults(handler=cmd_check)


def cmd_info(ctx: CliContext, args: argparse.Namespace) -> int:
    head = schema.head_revision()
    try:
        store = ctx.open_store(check_schema=False)
    except StoreError as exc:
        if not str(exc).startswith("no store at "):
            raise
        store, revision, state = None, None, "no store at this path; 'ims db upgrade' creates one"
    else:
        revision = schema.current_revision(store)
        state = _schema_state(store, revision, head)
    url = store.display_url if store is not None else redact(ctx.config.database_url)
    data = {
        "version": __version__,
        "store": url,
        "backend": store.backend if store is not None else None,
        "schema_revision": revision,
        "schema_head": head,
        "schema_state": state,
        "station": ctx.config.station,
        "config_file": str(ctx.config.config_path),
    }
    ctx.emit(
        data,
        f"ims-tui {__version__}\nstore:   {url}\nschema:  {revision or '-'} ({state})\n"
        f"station: {ctx.config.station}\nconfig:  {ctx.config.config_path}",
    )
    return 0


def _schema_state(store: Store, revision: str | None, head: str) -> str:
    if revision == head:
        return "current"
    if revision is None:
        return "no schema" if schema.is_empty(store) else "not an ims store"
    try:
        schema.refuse_newer(store)
    except StoreError:
        return "newer than this program: upgrade ims-tui"
    return f"needs 'ims db upgrade' to {head}"


def cmd_upgrade(ctx: CliContext, args: argparse.Namespace) -> int:
    store = ctx.open_store(check_schema=False, create=True)
    if ctx.args.user:  # an account named must sign in, and be an administrator, to change the schema
        check(store, ctx.actor, Permission.MANAGE_USERS, "db upgrade")
    before, after = schema.upgrade(store)
    if before != after:
        replenishment.settle_alerts(store)  # settings carried over from the products raise their alerts
    message = f"schema already at {after}" if before == after else f"schema upgraded {before or 'empty'} -> {after}"
    ctx.emit({"before": before, "after": after}, message)
    return 0


def cmd_demo(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.password is not None:
        raise BadInput("--password on the command line is visible to every user of this machine: use --password-stdin")
    store = ctx.open_store(check_schema=False, create=True)
    if args.if_empty and not demo.store_is_empty(store):
        return 0
    actor = confirm = None
    if args.reset and not demo.store_is_empty(store):
        schema.refuse_newer(store)
        actor = ctx.actor  # signs in with --user; refused before anything is asked or dropped
        check(store, actor, Permission.MANAGE_USERS, "demo --reset")
        confirm = args.confirm
        if confirm is None and sys.stdin.isatty():
            confirm = input(f"this drops every table of {store.display_url}; type its name ({demo.store_name(store)}) to go on: ")
    password = _demo_password(args)
    summary = demo.load_demo(store, password=password, reset=args.reset, seed=args.seed, station=ctx.config.station,
                             actor=actor, confirm=confirm, force=args.force)
    lines = [f"demo store loaded into {store.display_url}: {summary.describe()}", "users (password: " + password + "):"]
    lines += [f"  {user:<10} {role}" for user, role in summary.users]
    ctx.emit(summary.to_dict(), "\n".join(lines))
    return 0


def _demo_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput("no password on stdin (the first line was empty or missing)")
        return password
    if sys.stdin.isatty():
        return getpass.getpass("password for the demo users (Enter for 'demo'): ") or "demo"
    return "demo"


def cmd_check(ctx: CliContext, args: argparse.Namespace) -> int:
    report = integrity.run_check(ctx.store)
    data = {"clean": report.clean, "summary": report.summary(), "violations": list(report.violations)}
    ctx.emit(data, "\n".join([report.summary(), *report.violations]))
    return 0 if report.clean else 1


