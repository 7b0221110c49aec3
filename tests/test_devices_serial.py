"""Serial scanners: real pyserial on the slave side of a pty; the test plays the scanner.

The configured port is a symlink to the pty's slave, so a "re-plugged" scanner is a new
pty the link is pointed at - as a udev ``/dev/serial/by-id`` link would be.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import serial

from ims_tui.devices.serial_source import ScanBuffer, SerialSource
from tests.devices_fakes import Pty, RunningSource

GTIN_SCAN = "0109501101530003"


@pytest.fixture
def scanner(tmp_path: Path):
    pty = Pty()
    link = tmp_path / "ttyScanner"
    link.symlink_to(pty.slave_path)
    yield link, pty
    pty.close()


def _source(link: Path, **options) -> SerialSource:
    return SerialSource(str(link), reconnect_delay=0.02, max_reconnect_delay=0.05, **options)


@pytest.mark.parametrize(
    ("eol", "terminator"), [("cr", b"\r"), ("lf", b"\n"), ("crlf", b"\r\n"), ("any", b"\r"), ("any", b"\r\n")]
)
async def test_each_terminator_ends_a_scan_at_once(scanner, eol: str, terminator: bytes) -> None:
    link, pty = scanner
    async with RunningSource(_source(link, eol=eol)) as running:
        await running.connected()
        pty.write(GTIN_SCAN.encode() + terminator + b"A-03-04" + terminator)
        first, second = await running.next_scan(0.5), await running.next_scan(0.5)
    assert (first.text, second.text) == (GTIN_SCAN, "A-03-04")
    assert first.source == f"serial:{link}"
    assert running.scans.empty()


async def test_scan_split_across_two_writes_arrives_whole(scanner) -> None:
    link, pty = scanner
    async with RunningSource(_source(link, eol="cr")) as running:
        await running.connected()
        pty.write(b"01095011")
        await asyncio.sleep(0.05)
        assert running.scans.empty()
        pty.write(b"01530003\r")
        event = await running.next_scan()
    assert event.text == GTIN_SCAN


async def test_prefix_and_suffix_are_stripped(scanner) -> None:
    link, pty = scanner
    async with RunningSource(_source(link, eol="crlf", prefix="\x02", suffix="\x03")) as running:
        await running.connected()
        pty.write(b"\x02SKU-1\x03\r\n" + b"SKU-2\r\n")
        texts = [(await running.next_scan()).text, (await running.next_scan()).text]
    assert texts == ["SKU-1", "SKU-2"]


async def test_unplug_reports_it_and_replug_at_the_same_path_reconnects(scanner) -> None:
    link, pty = scanner
    async with RunningSource(_source(link, eol="cr")) as running:
        await running.connected()
        pty.write(b"BEFORE\r")
        assert (await running.next_scan()).text == "BEFORE"

        pty.unplug()
        state = await running.wait_state(lambda s: s.startswith("disconnected"))
        assert "unplugged" in state and str(link) in state

        replugged = Pty()
        try:
            new_link = link.with_name("new-link")
            new_link.symlink_to(replugged.slave_path)
            os.replace(new_link, link)
            await running.connected()
            replugged.write(b"AFTER\r")
            assert (await running.next_scan()).text == "AFTER"
            assert running.states == ["connected", state, "connected"]
        finally:
            replugged.close()


async def test_port_held_by_another_program_is_reported(scanner) -> None:
    link, _ = scanner
    with serial.Serial(str(link), exclusive=True):
        async with RunningSource(_source(link)) as running:
            state = await running.wait_state(lambda s: s.startswith("disconnected"))
    assert state == f"disconnected: {link}: in use by another program"


async def test_missing_port_is_reported_and_retried(tmp_path: Path) -> None:
    link = tmp_path / "ttyNothing"
    async with RunningSource(_source(link)) as running:
        state = await running.wait_state(lambda s: s.startswith("disconnected"))
        assert state == f"disconnected: {link}: not found (unplugged?)"
        pty = Pty()
        try:
            link.symlink_to(pty.slave_path)
            await running.connected()
        finally:
            pty.close()


async def test_cancelling_releases_the_port(scanner) -> None:
    link, _ = scanner
    async with RunningSource(_source(link)) as running:
        await running.connected()
    assert running.task.cancelled()
    with serial.Serial(str(link), exclusive=True) as port:  # would fail while still held
        assert port.is_open


def test_buffer_any_terminator_handles_crlf_split_between_reads() -> None:
    buffer = ScanBuffer("any")
    assert buffer.feed(b"ABC\r") == ["ABC"]
    assert buffer.feed(b"\nDEF") == []
    assert buffer.feed(b"\n") == ["DEF"]


def test_unknown_terminator_is_refused() -> None:
    with pytest.raises(ValueError, match="eol must be one of cr, lf, crlf, any"):
        SerialSource("/dev/ttyUSB0", eol="tab")
