"""Helpers for device tests: real ptys, and a runner that iterates a scan source in a task.

The only fakes are at the hardware boundary (a pty stands in for the serial cable, a pipe
for the evdev device node); everything above it is the production code.
"""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Callable

from ims_tui.devices.base import ScanEvent, ScanSource


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
