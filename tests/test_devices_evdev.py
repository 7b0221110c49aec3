"""evdev scanners: packed ``input_event`` records through a pipe into evdev's own async reader.

The fake is only at the hardware boundary: ``PipeInputDevice`` is evdev's ``EventIO`` with
a pipe instead of a ``/dev/input`` node.  Key decoding, batching, grabbing, reconnecting
and cleanup are the production code reading through evdev.
"""

from __future__ import annotations

import asyncio
import errno

import pytest
from evdev import ecodes

from ims_tui.devices.decode import decode_scan
from ims_tui.devices.evdev_source import DeviceMatch, EvdevSource
from tests.devices_fakes import PipeInputDevice, RunningSource, key_events

MATCH = DeviceMatch(path="/dev/input/by-id/usb-Pipe_Scanner-event-kbd")


def _source(devices: list[PipeInputDevice], **options) -> EvdevSource:
    """A source whose 'device node' yields the given devices, one per (re)connect."""

    def open_device(match: DeviceMatch) -> PipeInputDevice:
        assert match == MATCH
        if not devices:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return devices.pop(0)

    return EvdevSource(MATCH, open_device=open_device, reconnect_delay=0.01, max_reconnect_delay=0.02, **options)


@pytest.fixture
def device():
    device = PipeInputDevice()
    yield device
    device.close()


async def test_one_scan(device) -> None:
    async with RunningSource(_source([device])) as running:
        await running.connected()
        device.type_text("A-03-04")
        event = await running.next_scan()
    assert (event.text, event.source) == ("A-03-04", f"evdev:{MATCH.path}")


async def test_two_scans_in_one_read_batch_both_arrive(device) -> None:
    events = key_events("SKU1") + key_events("SKU2")
    assert len(events) <= 64  # one kernel read batch
    async with RunningSource(_source([device])) as running:
        await running.connected()
        device.write_events(events)
        texts = [(await running.next_scan()).text, (await running.next_scan()).text]
    assert texts == ["SKU1", "SKU2"]


async def test_scan_longer_than_a_read_batch_and_gs_as_ctrl_bracket(device) -> None:
    scan = "0109501101530003172512311021ABC\x1d21SN-0042"
    assert len(key_events(scan)) > 64
    async with RunningSource(_source([device])) as running:
        await running.connected()
        device.type_text(scan)
        event = await running.next_scan()
    assert event.text == scan
    decoded = decode_scan(event.text)
    assert (decoded.lot, decoded.serial, decoded.problems) == ("21ABC", "SN-0042", ())


async def test_shifted_characters(device) -> None:
    async with RunningSource(_source([device])) as running:
        await running.connected()
        device.type_text('Bin_A3/"X"+{7}?')
        event = await running.next_scan()
    assert event.text == 'Bin_A3/"X"+{7}?'


async def test_layout_from_config_and_prefix_suffix(device) -> None:
    layouts = {"de": {"KEY_Z": ["y", "Y"], "KEY_Y": ["z", "Z"]}}
    source = _source([device], layout="de", layouts=layouts, prefix="#", suffix="!")
    async with RunningSource(source) as running:
        await running.connected()
        device.type_text("#zY!")  # typed on US key positions; a German layout reads them swapped
        event = await running.next_scan()
    assert event.text == "yZ"


async def test_keypad_enter_ends_a_scan_and_lone_enter_is_no_scan(device) -> None:
    async with RunningSource(_source([device])) as running:
        await running.connected()
        device.write_events(key_events("", enter=True))
        kp_enter = key_events("42", enter=False) + [(ecodes.EV_KEY, ecodes.KEY_KPENTER, 1)]
        device.write_events(kp_enter)
        event = await running.next_scan()
    assert event.text == "42"


async def test_grab_waits_until_held_keys_are_released() -> None:
    device = PipeInputDevice(held=(ecodes.KEY_LEFTALT,))  # still down when the station opened it
    try:
        async with RunningSource(_source([device])) as running:
            await running.connected()
            device.type_text("X1")
            assert (await running.next_scan()).text == "X1"
            assert not device.grabbed
            device.write_events([(ecodes.EV_KEY, ecodes.KEY_LEFTALT, 0), (ecodes.EV_SYN, ecodes.SYN_REPORT, 0)])
            device.type_text("X2")
            assert (await running.next_scan()).text == "X2"
            assert device.grabbed
    finally:
        device.close()


async def test_no_grab_when_turned_off(device) -> None:
    async with RunningSource(_source([device], grab=False)) as running:
        await running.connected()
        device.type_text("X")
        await running.next_scan()
    assert not device.grabbed


async def test_unplug_then_replug_reconnects() -> None:
    first, second = PipeInputDevice(), PipeInputDevice()
    devices = [first]
    try:
        async with RunningSource(_source(devices)) as running:
            await running.connected()
            first.type_text("BEFORE")
            assert (await running.next_scan()).text == "BEFORE"

            first.unplug()
            unplugged = await running.wait_state(lambda s: s.startswith("disconnected"))
            assert unplugged == f"disconnected: {MATCH.path}: device went away (unplugged)"
            assert first.closed
            gone = await running.wait_state(lambda s: "not found" in s)

            devices.append(second)  # plugged back in
            await running.connected()
            second.type_text("AFTER")
            assert (await running.next_scan()).text == "AFTER"
        assert running.states == ["connected", unplugged, gone, "connected"]
    finally:
        first.close()
        second.close()


async def test_cancel_removes_the_reader_and_closes_the_device(device) -> None:
    fd = device.fileno()
    async with RunningSource(_source([device])) as running:
        await running.connected()
        await asyncio.sleep(0.01)  # the source is now waiting in evdev's reader
    assert device.closed
    assert asyncio.get_running_loop().remove_reader(fd) is False  # nothing left registered


def test_unknown_layout_and_bad_layout_entries_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown keyboard layout 'fr' \(known: us, de\)"):
        EvdevSource(MATCH, layout="fr", layouts={"de": {}})
    with pytest.raises(ValueError, match="'KEY_UMLAUT' is not an evdev key name"):
        EvdevSource(MATCH, layout="de", layouts={"de": {"KEY_UMLAUT": ["ü"]}})
    with pytest.raises(ValueError, match=r'KEY_Z must be \["x"\] or \["x", "X"\]'):
        EvdevSource(MATCH, layout="de", layouts={"de": {"KEY_Z": "yY"}})


def test_device_match_by_name_and_id() -> None:
    assert DeviceMatch(name="honeywell").matches("Honeywell Imaging 1900 Keyboard", 0x0C2E, 0x0B61)
    assert not DeviceMatch(name="zebra").matches("Honeywell Imaging 1900 Keyboard", 0x0C2E, 0x0B61)
    assert DeviceMatch(vendor=0x0C2E, product=0x0B61).matches("anything", 0x0C2E, 0x0B61)
    assert not DeviceMatch(vendor=0x0C2E, product=0x0B61).matches("anything", 0x0C2E, 0x0B62)
