"""``ims serve ssh|web``: serve the station app over SSH or to a browser (see ``ims_tui.serve``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ims_tui.cli.context import CliContext
from ims_tui.services.errors import BadInput


def listen_address(default_port: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> tuple[str, int]:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, str(default_port)
        try:
            number = int(port)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}") from None
        if not 0 <= number <= 65535:
            raise argparse.ArgumentTypeError(f"port out of range: {number}")
        return host.strip("[]") or "127.0.0.1", number

    return parse


def number(kind: type, minimum: float, what: str):  # type: ignore[no-untyped-def]
    """An argparse type: a ``kind`` of at least ``minimum``; ``what`` names it in the refusal."""

    def parse(text: str):  # type: ignore[no-untyped-def]
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}: {text!r}")
        return value

    return parse


positive = number(int, 1, "a whole number")
minutes = number(float, 0, "a number of minutes")


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="serve the station app over SSH or in a browser")
    actions = serve.add_subparsers(dest="serve_command", metavar="ACTION")

    ssh = actions.add_parser("ssh", help="one app process per SSH session; sign in with the app account or a key")
    ssh.add_argument("--listen", type=listen_address(2222), default=("127.0.0.1", 2222), metavar="HOST:PORT",
                     help="address to listen on (127.0.0.1:2222)")
    ssh.add_argument("--host-key", type=Path, metavar="FILE",
                     help="the server's private host key (default: made on first start in the data directory)")
    ssh.add_argument("--max-sessions", type=positive, default=50, metavar="N", help="sessions in total (50)")
    ssh.add_argument("--max-per-user", type=positive, default=3, metavar="N", help="sessions per user (3)")
    ssh.add_argument("--idle-minutes", type=minutes, default=30.0, metavar="M",
                     help="close a session after M minutes without a key (30; 0 never)")
    ssh.add_argument("--kiosk", action="store_true", dest="serve_kiosk", help="run the app in kiosk mode in every session")
    ssh.set_defaults(handler=cmd_ssh)

    webp = actions.add_parser("web", help="the app in a browser (textual-serve), behind its own sign-in")
    webp.add_argument("--listen", type=listen_address(8022), default=("127.0.0.1", 8022), metavar="HOST:PORT",
                      help="address to listen on (127.0.0.1:8022)")
    webp.add_argument("--public-url", metavar="URL",
                      help="the address browsers use (behind a TLS proxy: https://ims.example.com)")
    webp.add_argument("--allow-origin", action="append", default=[], metavar="URL", help="another Origin to accept")
    webp.add_argument("--max-sessions", type=positive, default=20, metavar="N", help="browser tabs at once (20)")
    webp.set_defaults(handler=cmd_web)


def _ready_store(ctx: CliContext):  # type: ignore[no-untyped-def]
    from ims_tui.db import schema

    store = ctx.open_store(check_schema=False, create=True)  # a server, like the app, makes its store
    if schema.is_empty(store):
        schema.upgrade(store)
    else:
        schema.ensure_current(store)
    return store


def cmd_ssh(ctx: CliContext, args: argparse.Namespace) -> int:
    from ims_tui.serve.ssh import SshSettings, serve

    store = _ready_store(ctx)
    host, port = args.listen
    settings = SshSettings(host=host, port=port, host_key=args.host_key, max_sessions=args.max_sessions,
                           max_per_user=args.max_per_user, idle_minutes=args.idle_minutes,
                           kiosk=args.serve_kiosk or args.kiosk)
    try:
        asyncio.run(serve(ctx.config, store, settings))
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return 0


def cmd_web(ctx: CliContext, args: argparse.Namespace) -> int:
    from ims_tui.serve.web import WebServer, WebSettings

    store = _ready_store(ctx)
    host, port = args.listen
    settings = WebSettings(host=host, port=port, max_sessions=args.max_sessions, public_url=args.public_url,
                           allowed_origins=tuple(args.allow_origin))
    try:
        WebServer(ctx.config, store, settings).serve()
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return 0
