"""A raw-TCP "printer" on 127.0.0.1: the hardware boundary for label tests, a real socket."""

from __future__ import annotations

import socket
import threading


class PrinterListener:
    """Accepts connections on an ephemeral port and keeps what each one sent, up to EOF.

    Use as a context manager; ``jobs`` is complete once the block has ended.
    """

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.jobs: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> PrinterListener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        # an empty connection wakes accept(); jobs queued before it are read first
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._thread.join(5)
        self.server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            if not chunks and self._stop.is_set():
                return  # the wake-up connection: every real job was queued before it
            self.jobs.append(b"".join(chunks))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
