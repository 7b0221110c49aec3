"""The ``ims`` command line: global options, dispatch, and the error/exit-code contract.

Each command module exposes ``register(subparsers)`` and sets ``handler=`` on its parsers.
A handler takes ``(ctx: CliContext, args)`` and returns an exit code; it raises
:class:`~ims_tui.services.errors.ImsError` subclasses for refusals, which become one
``error: ...`` line on stderr and the error's exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ims_tui import __version__
from ims_tui.cli.context import CliContext
from ims_tui.services.actor import Actor
from ims_tui.services.errors import ImsError
from ims_tui.services.text import visible

COMMAND_MODULES = (
    "ims_tui.cli.store",
    "ims_tui.cli.stock",
    "ims_tui.cli.devices",
    "ims_tui.cli.users",
    "ims_tui.cli.transfer",
    "ims_tui.cli.purchasing",
    "ims_tui.cli.labels",
    "ims_tui.cli.counts",
    "ims_tui.cli.moves",
    "ims_tui.cli.sales",
    "ims_tui.cli.serve",
    "ims_tui.cli.settings",
    "ims_tui.cli.replenish",
    "ims_tui.cli.reports",
    "ims_tui.cli.reference",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the contract: one ``error:`` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ims", description="Inventory management for warehouse stations.")
    parser.add_argument("--version", action="version", version=f"ims-tui {__version__}")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (or IMS_DATABASE_URL)")
    parser.add_argument("--user", metavar="NAME", help="act as this user (password from IMS_PASSWORD or a prompt)")
    parser.add_argument("--station", metavar="NAME", help="station name recorded on postings (default: host name)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--kiosk", action="store_true",
                        help="open the station app with no way out to a shell (also kiosk = true in the station file)")
    parser.add_argument("--login-user", action="store_true",
                        help="open the app signed in as the application user named like this OS login "
                             "(for an sshd ForceCommand: sshd has authenticated the login)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, actor: Actor | None = None) -> int:
    """Run one command; ``actor`` acts instead of ``--user``/the local operator (served sessions)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors, --help, --version: report the code, do not exit
        return exc.code if isinstance(exc.code, int) else 2
    ctx = CliContext(args, actor=actor)
    try:
        if args.command is None:
            from ims_tui.cli.app_launch import launch_app

            return launch_app(ctx)
        handler = getattr(args, "handler", None)
        if handler is None:
            sys.stderr.write(f"error: 'ims {args.command}' needs an action (see 'ims {args.command} --help')\n")
            return 2
        return handler(ctx, args)
    except ImsError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {visible(str(exc), keep='')}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:  # `ims export moves | head -1`: the reader has all it wanted
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - the contract: never a traceback without --debug
        if args.debug:
            raise
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)\n")
        return 1
    finally:
        ctx.close()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot complain about the pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
