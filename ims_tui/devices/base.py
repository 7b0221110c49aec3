"""What every scanner source shares: the scan event, the source interface, error wording.

A source is an async iterable of :class:`ScanEvent`.  It keeps trying to reach its device
for as long as it is iterated (a scanner that is unplugged and plugged back in simply
resumes) and reports how that goes through :attr:`ScanSource.state`:

- ``"connecting"`` before the first attempt has finished,
- ``"connected"`` while scans can arrive,
- ``"disconnected: <reason>"`` while it waits to retry (the reason is one line a person
  can act on, e.g. ``permission denied - add your user to the 'input' group``).

Iteration ends only when the consumer stops: cancelling the task, or closing the iterator
(``contextlib.aclosing``), releases the device before the close returns.  A source is read
by one consumer at a time; :func:`ims_tui.devices.sources.merge_scans` combines several.
"""

from __future__ import annotations

import errno
import grp
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

CONNECTING = "connecting"
CONNECTED = "connected"

StateCallback = Callable[["ScanSource", str], None]


@dataclass(frozen=True)
class ScanEvent:
    """One complete scan: the text without terminator, prefix or suffix."""

    text: str
    source: str
    """Name of the source that read it, e.g. ``serial:/dev/ttyACM0``."""
    at: float
    """Wall-clock time (``time.time()``) when the terminator arrived."""


class ScanSource(ABC):
    """A scanner device that yields :class:`ScanEvent` and reconnects on its own."""

    def __init__(
        self,
        name: str,
        *,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
        on_state: StateCallback | None = None,
    ) -> None:
        self.name = name
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.on_state = on_state
        self._state = CONNECTING

    @property
    def state(self) -> str:
        return self._state

    def _set_state(self, state: str) -> None:
        """Record a new state; the callback hears only real changes, not every retry."""
        if state == self._state:
            return
        self._state = state
        if self.on_state is not None:
            self.on_state(self, state)

    def _next_delay(self, delay: float) -> float:
        return min(delay * 2, self.max_reconnect_delay)

    def __aiter__(self) -> AsyncIterator[ScanEvent]:
        return self.scans()

    @abstractmethod
    def scans(self) -> AsyncIterator[ScanEvent]:
        """Read scans until cancelled or closed, reconnecting with backoff in between."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, state={self._state!r})"


def strip_affixes(text: str, prefix: str, suffix: str) -> str:
    """Remove a configured prefix/suffix the scanner adds; text without them is kept whole."""
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)]
    return text


def describe_os_error(path: str, exc: BaseException, *, usual_group: str) -> str:
    """One line saying why ``path`` cannot be used, with the fix where there is one."""
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return f"{path}: {permission_hint(path, usual_group)}"
    if code == errno.ENOENT:
        return f"{path}: not found (unplugged?)"
    if code in (errno.ENODEV, errno.ENXIO, errno.EIO):
        return f"{path}: device went away (unplugged)"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return f"{path}: in use by another program"
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{path}: {detail}"


def permission_hint(path: str, usual_group: str) -> str:
    """What to do about a device node this user may not open."""
    return f"permission denied - add your user to the '{_owning_group(path, usual_group)}' group and log in again"


def _owning_group(path: str, fallback: str) -> str:
    """The group that may open the device node; root-owned nodes get the distribution's usual group."""
    try:
        name = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return fallback
    return fallback if name == "root" else name
