"""Helpers for device tests: real ptys, and a runner that iterates a scan source in a task.

The only fakes are at the hardware boundary (a pty stands in for the serial cable, a pipe
for the evdev device node); everything above it, pyserial and evdev's reader included, is
the production code.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import time
import tty
from collections.abc import Callable

from evdev import ecodes
from evdev.eventio_async import EventIO

from ims_tui.devices.base import ScanEvent, ScanSource
from ims_tui.devices.evdev_source import US_LAYOUT


class Pty:
    """A pseudo-terminal pair: the program opens ``slave_path``, the test writes to the master."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.slave_path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        """Close both ends: the reader's next read fails like a pulled USB cable."""
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.master = self._slave = -1

    close = unplug


class RunningSource:
    """Iterate ``source`` in a background task; scans and states become awaitable."""

    def __init__(self, source: ScanSource) -> None:
        self.source = source
        self.scans: asyncio.Queue[ScanEvent] = asyncio.Queue()
        self.states: list[str] = []
        self._changed = asyncio.Event()
        source.on_state = self._on_state

    def _on_state(self, source: ScanSource, state: str) -> None:
        self.states.append(state)
        self._changed.set()

    async def _pump(self) -> None:
        async for event in self.source:
            await self.scans.put(event)

    async def __aenter__(self) -> RunningSource:
        self.task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def next_scan(self, timeout: float = 2.0) -> ScanEvent:
        return await asyncio.wait_for(self.scans.get(), timeout)

    async def wait_state(self, accept: Callable[[str], bool], timeout: float = 2.0) -> str:
        """Wait until the source's current state satisfies ``accept``; return it."""

        async def wait() -> str:
            while not accept(self.source.state):
                self._changed.clear()
                await self._changed.wait()
            return self.source.state

        return await asyncio.wait_for(wait(), timeout)

    async def connected(self, timeout: float = 2.0) -> None:
        await self.wait_state(lambda state: state == "connected", timeout)


# --- evdev -------------------------------------------------------------------------------

INPUT_EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit Linux


class PipeInputDevice(EventIO):
    """An input device whose node is a pipe; evdev's own async reader reads the records.

    ``evdev.InputDevice`` needs a real ``/dev/input`` node (it asks the kernel for the name
    and capabilities), so this subclass of evdev's ``EventIO`` sets ``fd`` to a pipe's read
    end and supplies the few ioctl answers a source asks for.  Reading, batching and the
    asyncio reader registration are evdev's.  Closing the write end reads as the kernel's
    ENODEV, which is what an unplugged device returns.
    """

    def __init__(self, name: str = "Pipe Scanner", held: tuple[int, ...] = ()) -> None:
        self.fd, self._writer = os.pipe()
        os.set_blocking(self.fd, False)
        self.path = f"/dev/input/pipe{self.fd}"
        self.name = name
        self.held = list(held)
        self.grabbed = False
        self.grabbed_while_held: list[int] | None = None
        self.closed = False

    def active_keys(self) -> list[int]:
        return list(self.held)

    def grab(self) -> None:
        self.grabbed = True

    def read(self):
        events = tuple(super().read())
        if not events:
            raise OSError(errno.ENODEV, "No such device")
        return iter(events)

    def write_events(self, events: list[tuple[int, int, int]]) -> None:
        """Write (type, code, value) records in one write, so they arrive in one read batch."""
        now = time.time()
        sec, usec = int(now), int(now % 1 * 1_000_000)
        os.write(self._writer, b"".join(INPUT_EVENT.pack(sec, usec, *event) for event in events))

    def type_text(self, text: str, *, enter: bool = True) -> None:
        self.write_events(key_events(text, enter=enter))

    def unplug(self) -> None:
        if self._writer >= 0:
            os.close(self._writer)
            self._writer = -1

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self.unplug()
        os.close(self.fd)
        self.fd = -1
        self.closed = True


def _us_reverse() -> dict[str, tuple[int, bool]]:
    reverse: dict[str, tuple[int, bool]] = {}
    for name, (plain, shifted) in US_LAYOUT.items():
        if name.startswith("KEY_KP"):
            continue
        reverse.setdefault(plain, (ecodes.ecodes[name], False))
        reverse.setdefault(shifted, (ecodes.ecodes[name], True))
    return reverse


def key_events(text: str, *, enter: bool = True) -> list[tuple[int, int, int]]:
    """The events a US-layout keyboard wedge sends for ``text``; GS is sent as Ctrl+]."""
    reverse = _us_reverse()
    syn = (ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
    events: list[tuple[int, int, int]] = []

    def tap(code: int, modifier: int | None = None) -> None:
        if modifier is not None:
            events.extend([(ecodes.EV_KEY, modifier, 1), syn])
        events.extend([(ecodes.EV_KEY, code, 1), syn, (ecodes.EV_KEY, code, 0), syn])
        if modifier is not None:
            events.extend([(ecodes.EV_KEY, modifier, 0), syn])

    for char in text:
        if char == "\x1d":
            tap(ecodes.KEY_RIGHTBRACE, ecodes.KEY_LEFTCTRL)
            continue
        code, shifted = reverse[char]
        tap(code, ecodes.KEY_LEFTSHIFT if shifted else None)
    if enter:
        tap(ecodes.KEY_ENTER)
    return events
