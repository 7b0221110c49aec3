"""`ims serve ssh` on loopback against the same app started locally, and 20 sessions at once.

Measured with the real OpenSSH client on a pty of its own (as a person's terminal), against a
real ``ims serve ssh`` process on 127.0.0.1, on a demo store (SQLite):

- first frame: process start until Home ("Signed in as") is on the client's screen, over SSH
  (key sign-in, one app process per session) against the same app process started locally on a
  pty, signed in as the same user (goal: within 1.5x);
- key press to screen update: a letter typed into Lookup's search until the client's screen shows
  it, and a wedge scan (EAN + CR, one write) until the product page is shown; for one session
  alone, then for N sessions (default 20) doing the same at once: the 95th percentile of each
  against one session alone;
- resident memory (RSS) of each session's app process while all N are open, and of the server.

    python -m bench.serve_ssh [--sessions 20] [--rounds 5] [--keys 12]

Figures are printed as ratios, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from bench._results import record

ANSI = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
HOME = b"Signed in as"
LETTERS = "qwzxjkvyqwzx"  # typed into Lookup's search; each new letter must appear on the screen


def plain(data: bytes) -> bytes:
    return ANSI.sub(b"", data)


class Pty:
    """A command on a pty of its own (80x24), its output collected by the event loop."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.buffer = bytearray()
        self.changed = asyncio.Event()
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self.buffer += data
        self.changed.set()

    async def until(self, needle: bytes, start: int = 0, timeout: float = 120.0) -> float:
        """Seconds until ``needle`` is in the (plain) output after offset ``start``."""
        deadline = time.perf_counter() + timeout
        while needle not in plain(bytes(self.buffer[start:])):
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{needle!r} never appeared: {plain(bytes(self.buffer[-400:]))!r}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return time.perf_counter()

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        try:
            os.killpg(self.process.pid, signal.SIGHUP)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"ims_tui.serve.child" in cmdline:
                found.append(int(entry))
    return found


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.url = f"sqlite:///{tmp / 'bench.db'}"
        self.env = {**os.environ, "XDG_DATA_HOME": str(tmp / "data"), "IMS_CONFIG": str(tmp / "none.toml")}
        self.env.pop("IMS_DATABASE_URL", None)
        self.missed_scans = 0

    def ims(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run([sys.executable, "-m", "ims_tui", "--db", self.url, *args], env=self.env,
                              input=stdin, capture_output=True, text=True, check=True).stdout

    def prepare(self, sessions: int) -> None:
        self.ims("demo", "--password", "bench-pass-1")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.tmp / "key")], check=True)
        self.ims("user", "key", "add", "picker", str(self.tmp / "key.pub"))
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        with engine.connect() as connection:
            self.ean = connection.scalar(text(
                "SELECT b.code FROM barcodes b JOIN products p ON p.id = b.product_id "
                "WHERE p.tracking = 'none' ORDER BY b.pack_qty, p.id LIMIT 1"))
            self.sku = connection.scalar(text(
                "SELECT p.sku FROM barcodes b JOIN products p ON p.id = b.product_id WHERE b.code = :c"), {"c": self.ean})
        engine.dispose()
        self.port = _free_port()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "ims_tui", "--db", self.url, "serve", "ssh", "--listen", f"127.0.0.1:{self.port}",
             "--max-sessions", str(sessions + 5), "--max-per-user", str(sessions + 5)],
            env=self.env, stdout=(self.tmp / "server.log").open("w"), stderr=subprocess.STDOUT)
        _wait_port(self.port)

    def ssh_argv(self) -> list[str]:
        return ["ssh", "-tt", "-p", str(self.port), "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
                "-o", "IdentityAgent=none", "-i", str(self.tmp / "key"), "picker@127.0.0.1"]

    def local_argv(self) -> list[str]:
        spec = json.dumps({"mode": "app", "db": self.url, "station": "bench", "user": "picker"})
        return [sys.executable, "-m", "ims_tui.serve.child", spec]

    async def first_frame(self, argv: list[str], env: dict[str, str]) -> float:
        session = Pty(argv, env)
        try:
            return await session.until(HOME) - session.started
        finally:
            session.close()

    async def work(self, session: Pty, keys: int) -> tuple[list[float], list[float]]:
        """Lookup: type letters one by one (each until shown); then scan the EAN until its product page."""
        typed, scans = [], []
        session.write(b"\x1bOQ")  # F2: Lookup
        await session.until(b"Lookup", len(session.buffer) - 1)
        await asyncio.sleep(0.5)
        for letter in LETTERS[:keys]:
            mark = len(session.buffer)
            sent = time.perf_counter()
            session.write(letter.encode())
            typed.append(await session.until(letter.encode(), mark) - sent)
            await asyncio.sleep(0.15)
        for _ in range(3):
            mark = len(session.buffer)
            session.write(b"\x1b")  # Esc: back to Home, and wait for it (an Esc just before a scan would
            try:  # make it alt+digit); already at Home after a scan that was not shown, nothing redraws
                await session.until(b"Scan a product or a bin", mark, timeout=15)
            except TimeoutError:
                pass
            await asyncio.sleep(0.3)
            mark = len(session.buffer)
            sent = time.perf_counter()
            session.write(self.ean.encode() + b"\r")  # a wedge scan: one write
            try:
                scans.append(await session.until(self.sku.encode(), mark, timeout=60) - sent)
            except TimeoutError:
                self.missed_scans += 1
            await asyncio.sleep(0.3)
        return typed, scans

    async def run(self, sessions: int, rounds: int, keys: int) -> dict:
        env = {**self.env, "TERM": "xterm-256color"}
        local_env = {**env, "TEXTUAL_FPS": "30", "TEXTUAL_ANIMATIONS": "none", "ESCDELAY": "25"}
        local, remote = [], []
        for _ in range(rounds):  # interleaved, so drift on a shared machine hits both
            local.append(await self.first_frame(self.local_argv(), local_env))
            remote.append(await self.first_frame(self.ssh_argv(), env))
        alone = Pty(self.ssh_argv(), env)
        await alone.until(HOME)
        typed_1, scans_1 = await self.work(alone, keys)
        alone.close()
        await asyncio.sleep(1)

        clients = []
        for _ in range(sessions):
            clients.append(Pty(self.ssh_argv(), env))
            await asyncio.sleep(0.2)
        await asyncio.gather(*(client.until(HOME, timeout=300) for client in clients))
        results = await asyncio.gather(*(self.work(client, keys) for client in clients))
        apps = children_of(self.server.pid)
        rss = [rss_kib(pid) for pid in apps]
        server_rss = rss_kib(self.server.pid)
        for client in clients:
            client.close()
        typed_n = [value for typed, _ in results for value in typed]
        scans_n = [value for _, scans in results for value in scans]
        return {
            "first_frame_local_s": statistics.median(local), "first_frame_ssh_s": statistics.median(remote),
            "typed_p95_1_ms": p95(typed_1) * 1000, "typed_p95_n_ms": p95(typed_n) * 1000,
            "scan_p95_1_ms": p95(scans_1) * 1000, "scan_p95_n_ms": p95(scans_n) * 1000,
            "sessions": sessions, "apps_seen": len(apps), "missed_scans": self.missed_scans,
            "rss_per_session_mib": statistics.mean(rss) / 1024 if rss else 0.0,
            "rss_max_mib": max(rss) / 1024 if rss else 0.0, "server_rss_mib": server_rss / 1024,
        }

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(15)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the server did not listen on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ims-bench-serve-") as tmp:
        bench = Bench(Path(tmp))
        bench.prepare(args.sessions)
        try:
            r = asyncio.run(bench.run(args.sessions, args.rounds, max(1, min(args.keys, len(LETTERS)))))
        finally:
            bench.close()
    print(f"cores: {os.cpu_count()}  sessions: {r['sessions']} (app processes seen: {r['apps_seen']})")
    print(f"first frame   local {r['first_frame_local_s']:.2f} s   ssh {r['first_frame_ssh_s']:.2f} s   "
          f"ratio {r['first_frame_ssh_s'] / r['first_frame_local_s']:.2f}x (goal <= 1.5x)")
    print(f"key to screen p95   1 session {r['typed_p95_1_ms']:.0f} ms   {r['sessions']} sessions "
          f"{r['typed_p95_n_ms']:.0f} ms   ratio {r['typed_p95_n_ms'] / r['typed_p95_1_ms']:.2f}x")
    print(f"scan to product p95 1 session {r['scan_p95_1_ms']:.0f} ms   {r['sessions']} sessions "
          f"{r['scan_p95_n_ms']:.0f} ms   ratio {r['scan_p95_n_ms'] / r['scan_p95_1_ms']:.2f}x"
          f"   (scans not shown within 60 s: {r['missed_scans']})")
    print(f"RSS per session app {r['rss_per_session_mib']:.1f} MiB (max {r['rss_max_mib']:.1f})   "
          f"server {r['server_rss_mib']:.1f} MiB")
    record("serve_ssh", "first frame over ssh vs local", r["first_frame_ssh_s"] / r["first_frame_local_s"], at_most=1.5,
           detail=f"{r['first_frame_ssh_s']:.2f} vs {r['first_frame_local_s']:.2f} s")
    record("serve_ssh", f"key to screen p95, {r['sessions']} sessions vs 1", r["typed_p95_n_ms"] / r["typed_p95_1_ms"],
           detail=f"{r['typed_p95_n_ms']:.0f} vs {r['typed_p95_1_ms']:.0f} ms")
    record("serve_ssh", f"scan to product p95, {r['sessions']} sessions vs 1", r["scan_p95_n_ms"] / r["scan_p95_1_ms"],
           detail=f"{r['scan_p95_n_ms']:.0f} vs {r['scan_p95_1_ms']:.0f} ms")


if __name__ == "__main__":
    main()
