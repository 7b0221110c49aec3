"""What every CLI handler needs: configuration, the store, the acting user, and output."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ims_tui.config import Config, ConfigError, default_database_url, load_config, secure_data_dir
from ims_tui.settings import use_site
from ims_tui.services.actor import Actor
from ims_tui.services.errors import AuthError, BadInput
from ims_tui.services.text import visible

if TYPE_CHECKING:
    from ims_tui.db.engine import Store


class CliContext:
    def __init__(self, args: argparse.Namespace, *, actor: Actor | None = None) -> None:
        """``actor``: a user already signed in by the caller (``ims serve ssh`` command mode)."""
        self.args = args
        self._store: Store | None = None
        if actor is not None:
            self.__dict__["actor"] = actor  # the cached property, already known

    @cached_property
    def config(self) -> Config:
        try:
            config = load_config(database_url=self.args.db, station=self.args.station)
        except ConfigError as exc:
            raise BadInput(str(exc)) from None
        use_site(config.site)
        return config

    def open_store(self, *, check_schema: bool = True, create: bool = False) -> Store:
        """The store named by --db / IMS_DATABASE_URL / config; refuses a schema of another revision.
        Only commands that make a store (``db upgrade``, ``demo``, the app) pass ``create``: for
        the others a SQLite path with nothing there is a mistake, said as such."""
        if self._store is None:
            from ims_tui.db import schema
            from ims_tui.db.engine import Store  # SQLAlchemy: not before the app's first paint

            if self.config.database_url == default_database_url():
                secure_data_dir()
            store = Store(self.config.database_url, create=create)
            store.on_wait = lambda note: sys.stderr.write(f"{note}\n")
            self._store = store
            if check_schema:
                schema.ensure_current(store)
        return self._store

    @property
    def store(self) -> Store:
        return self.open_store()

    @cached_property
    def actor(self) -> Actor:
        """``--user`` signs in (password from IMS_PASSWORD or a prompt); else the local operator."""
        if not self.args.user:
            return Actor.local_operator(_os_user(), self.config.station)
        from ims_tui.services.auth import sign_in

        password = os.environ.get("IMS_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise AuthError("no password: set IMS_PASSWORD or run from a terminal to be asked")
            password = getpass.getpass(f"password for {self.args.user}: ")
        return sign_in(
            self.store, self.args.user, password, station=self.config.station,
        ).actor

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def emit(self, data: Any, text: str | None = None) -> None:
        """Print ``data`` as JSON with --json, else ``text`` (or a plain rendering of ``data``)."""
        if self.json:
            sys.stdout.write(json.dumps(data, default=json_default, indent=2) + "\n")
        else:
            # Stored text is data: a control character in it is shown, never sent to the terminal.
            sys.stdout.write(visible((text if text is not None else str(data)).rstrip("\n")) + "\n")

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
