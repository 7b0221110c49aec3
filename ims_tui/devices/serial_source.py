"""Serial (RS-232 / USB CDC-ACM) scanners through pyserial.

One thread per source owns the port: it opens it exclusively, reads whatever bytes are
waiting, cuts them into scans on the terminator, and reopens with backoff after the port
fails (unplugged).  ``readline()`` is not used: it waits for its timeout on CR-only data.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Callable

import serial

from ims_tui.devices.base import (
    CONNECTED,
    ScanEvent,
    ScanSource,
    StateCallback,
    describe_os_error,
    strip_affixes,
)

TERMINATORS = {
    "cr": re.compile(rb"\r"),
    "lf": re.compile(rb"\n"),
    "crlf": re.compile(rb"\r\n"),
    "any": re.compile(rb"[\r\n]"),
}
"""Spec ``eol=`` values; ``any`` ends a scan at CR or LF, so CR, LF and CRLF scanners all work."""


def check_eol(eol: str) -> str:
    if eol not in TERMINATORS:
        raise ValueError(f"eol must be one of {', '.join(TERMINATORS)}, not {eol!r}")
    return eol


class ScanBuffer:
    """Bytes in, complete scans out; a scan may arrive split over any number of reads."""

    def __init__(self, eol: str = "any", *, prefix: str = "", suffix: str = "", encoding: str = "utf-8") -> None:
        self._splitter = TERMINATORS[check_eol(eol)]
        self.prefix = prefix
        self.suffix = suffix
        self.encoding = encoding
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        *complete, self._pending = self._splitter.split(self._pending + data)
        scans = []
        for chunk in complete:
            # CR/LF beyond the configured terminator (or the LF of a CRLF in "any") is no data.
            text = chunk.decode(self.encoding, errors="replace").strip("\r\n")
            text = strip_affixes(text, self.prefix, self.suffix)
            if text:
                scans.append(text)
        return scans

    def clear(self) -> None:
        self._pending = b""


class SerialSource(ScanSource):
    """Scans from a serial port; see :func:`ims_tui.devices.sources.parse_source_spec` for the spec."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        eol: str = "any",
        prefix: str = "",
        suffix: str = "",
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
        on_state: StateCallback | None = None,
    ) -> None:
        super().__init__(
            f"serial:{port}",
            reconnect_delay=reconnect_delay,
            max_reconnect_delay=max_reconnect_delay,
            on_state=on_state,
        )
        self.port = port
        self.baudrate = baudrate
        self.eol = check_eol(eol)
        self.prefix = prefix
        self.suffix = suffix
        self._lock = threading.Lock()
        self._open_port: serial.Serial | None = None

    async def scans(self) -> AsyncIterator[ScanEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ScanEvent] = asyncio.Queue()
        stop = threading.Event()

        def post(callback: Callable[..., object], *args: object) -> None:
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the loop closed under us: nobody is listening any more
                stop.set()

        worker = threading.Thread(
            target=self._run, args=(post, queue, stop), name=f"scanner {self.name}", daemon=True
        )
        worker.start()
        try:
            while True:
                yield await queue.get()
        finally:
            stop.set()
            with self._lock:
                if self._open_port is not None:
                    self._open_port.cancel_read()
            worker.join(timeout=5)

    def _run(self, post: Callable[..., None], queue: asyncio.Queue[ScanEvent], stop: threading.Event) -> None:
        """The worker thread: open, read, and reopen with backoff until ``stop``."""
        buffer = ScanBuffer(self.eol, prefix=self.prefix, suffix=self.suffix)
        delay = self.reconnect_delay
        while not stop.is_set():
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=None, exclusive=True)
            except (serial.SerialException, OSError) as exc:
                post(self._set_state, f"disconnected: {describe_os_error(self.port, exc, usual_group='dialout')}")
                stop.wait(delay)
                delay = self._next_delay(delay)
                continue
            with self._lock:
                self._open_port = port
            post(self._set_state, CONNECTED)
            delay = self.reconnect_delay
            buffer.clear()  # half a scan from before the unplug is garbage
            try:
                while not stop.is_set():
                    data = port.read(max(1, port.in_waiting))
                    for text in buffer.feed(data):
                        post(queue.put_nowait, ScanEvent(text, self.name, time.time()))
            except (serial.SerialException, OSError) as exc:
                post(self._set_state, f"disconnected: {_describe_read_error(self.port, exc)}")
                stop.wait(delay)
            finally:
                with self._lock:
                    port.close()
                    self._open_port = None


def _describe_read_error(port: str, exc: BaseException) -> str:
    # pyserial reports a vanished device as "read failed: [Errno 5] ..." or as readiness with no data.
    text = str(exc)
    if getattr(exc, "errno", None) is None and ("read failed" in text or "returned no data" in text):
        return f"{port}: device went away (unplugged)"
    return describe_os_error(port, exc, usual_group="dialout")
