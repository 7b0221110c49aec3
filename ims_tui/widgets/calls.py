"""The one way a screen or widget calls a service: in a thread worker, errors as one line.

:meth:`ServiceCalls.call` runs ``fn(*args, **kwargs)`` on a worker thread (database work and
password hashing never block the UI), then, back on the UI thread, hands the result to
``then`` or an :class:`~ims_tui.services.errors.ImsError` to ``failed`` (by default one
message line, :meth:`ServiceCalls.say`).  A result is dropped when the screen or widget has
gone meanwhile, or when a newer call of the same exclusive group replaced it.  Anything else
raised is said as one line too: the station keeps working.  A write that must wait for another
station's import says so on the message line while it waits (``services.waiting``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.worker import get_current_worker

from ims_tui.services.errors import ImsError


class ServiceCalls:
    """Mixin for Textual screens and widgets (anything with ``app`` and ``run_worker``)."""

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        then: Callable[[Any], None] | None = None,
        failed: Callable[[ImsError], None] | None = None,
        group: str = "service",
        exclusive: bool = False,
        even_if_gone: bool = False,
        **kwargs: Any,
    ) -> None:
        """Run ``fn`` off the UI thread; deliver its result to ``then`` or its error to ``failed``.

        ``even_if_gone``: deliver also after the screen closed (work the user should still hear
        about, such as an export that finished after Esc; the callbacks must not touch widgets).
        """
        self.run_worker(  # type: ignore[attr-defined]
            lambda: self._call_in_worker(fn, args, kwargs, then, failed, even_if_gone),
            thread=True, group=group, exclusive=exclusive, exit_on_error=False,
        )

    def say(self, text: str, *, error: bool = False, warning: bool = False) -> None:
        """One line to the user (a screen with a message line puts it there)."""
        self.app.say(text, error=error or warning)  # type: ignore[attr-defined]

    def _call_in_worker(self, fn, args, kwargs, then, failed, even_if_gone: bool = False) -> None:
        # Imported here, on the worker: it brings the store's engine (SQLAlchemy), which the
        # sign-in screen must not wait for before it paints.
        from ims_tui.services.waiting import reporting_waits

        try:
            with reporting_waits(lambda note: self._deliver(self.say, note)):
                result = fn(*args, **kwargs)
        except ImsError as exc:
            self._deliver(failed or self._say_error, exc, even_if_gone)
            return
        except Exception as exc:  # noqa: BLE001 - the station must keep working and say what happened
            self._deliver(failed or self._say_error, ImsError(f"unexpected {type(exc).__name__}: {exc}"), even_if_gone)
            return
        if then is not None:
            self._deliver(then, result, even_if_gone)

    def _say_error(self, error: ImsError) -> None:
        self.say(str(error), error=True)

    def _deliver(self, callback: Callable[[Any], None], value: Any, even_if_gone: bool = False) -> None:
        worker = get_current_worker()

        def run() -> None:
            if even_if_gone or (self.is_attached and not worker.is_cancelled):  # type: ignore[attr-defined]
                callback(value)

        try:
            self.app.call_from_thread(run)  # type: ignore[attr-defined]
        except RuntimeError:  # the app closed under the worker
            pass
