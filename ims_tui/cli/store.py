"""``ims info``, ``ims db upgrade``, ``ims demo``, ``ims check``."""

from __future__ import annotations

import argparse

from ims_tui import __version__
from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.db import schema
from ims_tui.services import demo, integrity


def register(subparsers: argparse._SubParsersAction) -> None:
    info = subparsers.add_parser("info", help="version, store URL (password hidden), schema revision")
    info.set_defaults(handler=cmd_info)

    db = subparsers.add_parser("db", help="schema management").add_subparsers(dest="db_command", metavar="ACTION")
    db.add_parser("upgrade", help="create or migrate the schema; idempotent").set_defaults(handler=cmd_upgrade)

    demo_parser = subparsers.add_parser("demo", help="load the demo store and one user per role")
    demo_parser.add_argument("--reset", action="store_true", help="wipe a store that holds data first")
    demo_parser.add_argument("--if-empty", action="store_true", help="load only into an empty store; else do nothing")
    demo_parser.add_argument("--password", help="password for the demo users (default: demo)")
    demo_parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    demo_parser.set_defaults(handler=cmd_demo)

    check = subparsers.add_parser("check", help="verify the ledger invariants; 0 clean, 1 with the list")
    add_json_flag(check)
    check.set_defaults(handler=cmd_check)


def cmd_info(ctx: CliContext, args: argparse.Namespace) -> int:
    store = ctx.open_store(check_schema=False)
    revision = schema.current_revision(store)
    head = schema.head_revision()
    state = "current" if revision == head else ("no schema" if revision is None else f"needs 'ims db upgrade' to {head}")
    data = {
        "version": __version__,
        "store": store.display_url,
        "backend": store.backend,
        "schema_revision": revision,
        "schema_head": head,
        "station": ctx.config.station,
        "config_file": str(ctx.config.config_path),
    }
    ctx.emit(
        data,
        f"ims-tui {__version__}\nstore:   {store.display_url}\nschema:  {revision or '-'} ({state})\n"
        f"station: {ctx.config.station}\nconfig:  {ctx.config.config_path}",
    )
    return 0


def cmd_upgrade(ctx: CliContext, args: argparse.Namespace) -> int:
    store = ctx.open_store(check_schema=False)
    before, after = schema.upgrade(store)
    message = f"schema already at {after}" if before == after else f"schema upgraded {before or 'empty'} -> {after}"
    ctx.emit({"before": before, "after": after}, message)
    return 0


def cmd_demo(ctx: CliContext, args: argparse.Namespace) -> int:
    store = ctx.open_store(check_schema=False)
    if args.if_empty and not demo.store_is_empty(store):
        return 0
    password = args.password or "demo"
    summary = demo.load_demo(store, password=password, reset=args.reset, seed=args.seed, station=ctx.config.station)
    lines = [f"demo store loaded into {store.display_url}: {summary.describe()}", "users (password: " + password + "):"]
    lines += [f"  {user:<10} {role}" for user, role in summary.users]
    ctx.emit(summary.to_dict(), "\n".join(lines))
    return 0


def cmd_check(ctx: CliContext, args: argparse.Namespace) -> int:
    report = integrity.run_check(ctx.store)
    data = {"clean": report.clean, "summary": report.summary(), "violations": list(report.violations)}
    ctx.emit(data, "\n".join([report.summary(), *report.violations]))
    return 0 if report.clean else 1


