"""Source specs, config entries, several scanners as one stream, and scanner discovery."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest
import serial
from evdev import ecodes
from serial.tools.list_ports_common import ListPortInfo

from ims_tui.config import ScannerConfig
from ims_tui.devices.base import describe_os_error
from ims_tui.devices.discovery import discover_scanners, evdev_candidate, serial_candidate
from ims_tui.devices.evdev_source import DeviceMatch, EvdevSource
from ims_tui.devices.serial_source import SerialSource
from ims_tui.devices.sources import merge_scans, parse_source_spec, source_from_config
from tests.devices_fakes import PipeInputDevice, Pty


def test_serial_spec_with_options() -> None:
    source = parse_source_spec("serial:/dev/ttyUSB0?baud=19200&eol=crlf&prefix=%02&suffix=%2B")
    assert isinstance(source, SerialSource)
    assert (source.port, source.baudrate, source.eol, source.prefix, source.suffix) == (
        "/dev/ttyUSB0", 19200, "crlf", "\x02", "+",
    )
    assert source.name == "serial:/dev/ttyUSB0"


def test_serial_spec_defaults_read_any_terminator_at_9600() -> None:
    source = parse_source_spec("serial:/dev/ttyACM0")
    assert (source.baudrate, source.eol) == (9600, "any")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("evdev:/dev/input/event3", DeviceMatch(path="/dev/input/event3")),
        ("evdev:/dev/input/by-id/usb-Honeywell-event-kbd", DeviceMatch(path="/dev/input/by-id/usb-Honeywell-event-kbd")),
        ("evdev:name=Honeywell%201900", DeviceMatch(name="Honeywell 1900")),
        ("evdev:id=0c2e:0B61", DeviceMatch(vendor=0x0C2E, product=0x0B61)),
    ],
)
def test_evdev_specs_name_the_device(spec: str, match: DeviceMatch) -> None:
    source = parse_source_spec(spec)
    assert isinstance(source, EvdevSource)
    assert source.match == match
    assert source.grab is True


def test_config_entry_fields_apply_and_spec_options_win() -> None:
    layouts = {"de": {"KEY_Z": ["y", "Y"]}}
    entry = ScannerConfig(source="evdev:name=Zebra?suffix=%23&grab=no", layout="de", prefix="]", suffix="!")
    source = source_from_config(entry, layouts)
    assert (source.prefix, source.suffix, source.grab) == ("]", "#", False)
    assert source.keymap[ecodes.KEY_Z] == ("y", "Y")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("usb:/dev/x", "expected evdev:<device> or serial:<port>"),
        ("/dev/ttyUSB0", "expected evdev:<device> or serial:<port>"),
        ("serial:", "no device after 'serial:'"),
        ("serial:/dev/x?baud=fast", "baud must be a whole number such as 9600, not 'fast'"),
        ("serial:/dev/x?eol=tab", "eol must be one of cr, lf, crlf, any, not 'tab'"),
        ("serial:/dev/x?bud=9600", "unknown option 'bud' (known: baud, eol, prefix, suffix)"),
        ("serial:/dev/x?baud=1200&baud=9600", "option 'baud' given twice"),
        ("serial:/dev/x?baud", "options must be key=value joined by '&'"),
        ("evdev:event3", "after 'evdev:' give a /dev/input path, name=<part of the name> or id=<vendor>:<product>"),
        ("evdev:id=0c2e", "id must be vendor:product in hex, such as 0c2e:0b61"),
        ("evdev:/dev/input/event3?grab=maybe", "grab must be yes or no, not 'maybe'"),
        ("evdev:/dev/input/event3?layout=fr", "unknown keyboard layout 'fr' (known: us)"),
    ],
)
def test_bad_specs_say_what_is_wrong_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_source_spec(spec)
    assert str(caught.value) == f"scanner source {spec!r}: {message}"


async def test_merge_reads_every_scanner_and_releases_them_all(tmp_path: Path) -> None:
    pty = Pty()
    link = tmp_path / "ttyScanner"
    link.symlink_to(pty.slave_path)
    device = PipeInputDevice()
    wedge = EvdevSource(DeviceMatch(path="/dev/input/event9"), open_device=lambda match: device)
    port = SerialSource(str(link), eol="cr")
    connected = asyncio.Event()
    port.on_state = lambda source, state: state == "connected" and connected.set()
    try:
        async with aclosing(merge_scans([wedge, port])) as scans:
            reader = asyncio.ensure_future(anext(scans))
            await asyncio.wait_for(connected.wait(), 2)
            pty.write(b"FROM-SERIAL\r")
            first = await asyncio.wait_for(reader, 2)
            device.type_text("FROM-WEDGE")
            second = await asyncio.wait_for(anext(scans), 2)
        assert {(first.source, first.text), (second.source, second.text)} == {
            (f"serial:{link}", "FROM-SERIAL"),
            ("evdev:/dev/input/event9", "FROM-WEDGE"),
        }
        assert device.closed
        with serial.Serial(str(link), exclusive=True):
            pass  # the serial port was released too
    finally:
        device.close()
        pty.close()


def test_discovery_explains_an_empty_input_directory(tmp_path: Path) -> None:
    found = discover_scanners(input_dir=str(tmp_path), serial_by_id_dir=str(tmp_path / "none"))
    assert f"no input devices in {tmp_path}" in found.diagnostics[0]
    assert all(candidate.kind == "serial" for candidate in found.candidates)


def test_keyboard_like_input_device_is_a_candidate_and_a_scanner_brand_is_likely() -> None:
    keys = [ecodes.KEY_ENTER, *(getattr(ecodes, f"KEY_{d}") for d in "0123456789")]
    honeywell = evdev_candidate(
        "/dev/input/event7", "Honeywell Imaging & Mobility 1900", 0x0C2E, 0x0B61, keys,
        by_id="/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1900-event-kbd",
    )
    assert honeywell.spec == "evdev:/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1900-event-kbd"
    assert honeywell.usb_id == "0c2e:0b61"
    assert honeywell.likely
    assert honeywell.reasons == (
        "types digits and Enter", "name says 'honeywell'", "USB vendor 0c2e is Honeywell (Metrologic)"
    )
    keyboard = evdev_candidate("/dev/input/event2", "AT Translated Set 2 keyboard", 0x0001, 0x0001, keys)
    assert keyboard.spec == "evdev:/dev/input/event2" and not keyboard.likely
    mouse = evdev_candidate("/dev/input/event5", "USB Optical Mouse", 0x046D, 0xC077, [ecodes.BTN_LEFT])
    assert mouse is None


def test_usb_serial_port_shows_vendor_and_product() -> None:
    port = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
    port.vid, port.pid, port.manufacturer, port.product = 0x05E0, 0x1701, "Symbol Technologies", "DS4308"
    candidate = serial_candidate(port, by_id="/dev/serial/by-id/usb-Symbol_DS4308-if00")
    assert candidate.spec == "serial:/dev/serial/by-id/usb-Symbol_DS4308-if00"
    assert (candidate.name, candidate.usb_id, candidate.likely) == ("Symbol Technologies DS4308", "05e0:1701", True)
    assert "USB vendor 05e0 is Zebra (Symbol)" in candidate.reasons


def test_permission_problem_says_which_group_to_join() -> None:
    message = describe_os_error("/dev/input/event3", PermissionError(13, "Permission denied"), usual_group="input")
    assert message == "/dev/input/event3: permission denied - add your user to the 'input' group and log in again"
