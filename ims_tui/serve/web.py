"""``ims serve web``: the station app in a browser, on textual-serve, one process per tab.

textual-serve has no authentication, no Origin check and no session cap; this adds the last two
around it, and the first is the app's own sign-in screen: each tab's process starts signed out,
so nothing but the sign-in screen runs before a user proves who they are.  It listens on
127.0.0.1 unless told otherwise; put TLS in front of it with a reverse proxy (see the README),
and give that proxy's address as ``--public-url`` so the Origin check and the page's websocket
address match it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from ims_tui.config import Config
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.services.errors import ImsError
from ims_tui.serve.child import SPEC_ENV

log = logging.getLogger("ims.serve.web")


@dataclass
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8022
    max_sessions: int = 20
    public_url: str | None = None
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebServer(Server):
    """textual-serve with an Origin check and a session cap; the app's sign-in is the gate."""

    def __init__(self, config: Config, store: Store, settings: WebSettings) -> None:
        spec = json.dumps({"mode": "app", "db": config.database_url, "station": config.station, "user": None})
        # each tab's process inherits this process's environment (textual-serve copies it)
        os.environ[SPEC_ENV] = spec
        command = f"{shlex.quote(sys.executable)} -m ims_tui.serve.child"
        super().__init__(command, host=settings.host, port=settings.port, title="ims", public_url=settings.public_url)
        self.settings = settings
        self.store = store
        self.allowed = {origin_of(self.public_url), *(origin_of(o) for o in settings.allowed_origins)}
        self.open_sessions = 0

    def initialize_logging(self) -> None:
        logging.basicConfig(level="INFO", format="%(message)s")

    async def on_startup(self, app: web.Application) -> None:
        print(f"ims serve web: {self.public_url} (listening on {self.settings.host}:{self.settings.port}, "
              f"at most {self.settings.max_sessions} sessions)", flush=True)

    def refusal(self, request: web.Request) -> web.Response | None:
        origin = request.headers.get("Origin", "").lower()
        if origin not in self.allowed:
            log.warning("refused a websocket from origin %r (%s)", origin or "(none)", request.remote)
            return web.Response(status=403, text=f"origin {origin or '(none)'} is not allowed; "
                                                 f"open {self.public_url} or start with --public-url\n")
        if self.open_sessions >= self.settings.max_sessions:
            log.warning("refused a session from %s: %d open", request.remote, self.open_sessions)
            return web.Response(status=503, text=f"the server is full ({self.settings.max_sessions} sessions): try again later\n")
        return None

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        try:  # a store upgraded since the server started is refused here, not in the app
            await asyncio.to_thread(schema.ensure_current, self.store)
        except ImsError as exc:
            return web.Response(status=503, text=f"error: {exc}\n")
        self.open_sessions += 1
        log.info("session from %s opened (%d open)", request.remote, self.open_sessions)
        try:
            return await super().handle_websocket(request)
        finally:
            self.open_sessions -= 1
            log.info("session from %s closed (%d open)", request.remote, self.open_sessions)
