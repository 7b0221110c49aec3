"""Find the scanners plugged into this machine, and say why none can be read.

Keyboard-wedge scanners are input devices that type digits and Enter; nothing tells them
apart from a keyboard for certain, so each candidate carries its reasons and a ``likely``
flag (a scanner-ish name or a scanner maker's USB vendor id).  Serial ports are all
candidates; USB ones show their vendor:product id.
"""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import serial.tools.list_ports
from serial.tools.list_ports_common import ListPortInfo

from ims_tui.devices.base import describe_os_error, permission_hint
from ims_tui.devices.evdev_source import ecodes, event_nodes, evdev

SCANNER_VENDORS = {
    0x0C2E: "Honeywell (Metrologic)",
    0x0536: "Honeywell (Hand Held Products)",
    0x05E0: "Zebra (Symbol)",
    0x05F9: "Datalogic (PSC)",
    0x080C: "Datalogic",
    0x1EAB: "Newland",
    0x065A: "Opticon",
}
"""USB vendor ids of barcode scanner makers."""

SCANNER_WORDS = ("scanner", "barcode", "bar code", "imager", "honeywell", "zebra", "symbol", "datalogic",
                 "newland", "opticon", "metrologic")


@dataclass(frozen=True)
class Candidate:
    kind: str
    """``evdev`` or ``serial``."""
    spec: str
    """A source spec that reads it; by-id paths where there are, as they survive replugging."""
    name: str
    usb_id: str | None
    """``vendor:product`` in hex, as lsusb shows it."""
    reasons: tuple[str, ...]
    likely: bool
    """A scanner by name or maker, not just something that could be one."""


@dataclass(frozen=True)
class Discovery:
    candidates: tuple[Candidate, ...]
    diagnostics: tuple[str, ...]
    """Why devices could not be looked at, each with what to do."""

    def to_dict(self) -> dict:
        return {
            "candidates": [asdict(c) for c in self.candidates],
            "diagnostics": list(self.diagnostics),
        }


def discover_scanners(input_dir: str = "/dev/input", serial_by_id_dir: str = "/dev/serial/by-id") -> Discovery:
    """Look at every input device and serial port; likely scanners first."""
    candidates: list[Candidate] = []
    diagnostics: list[str] = []
    _find_input_devices(input_dir, candidates, diagnostics)
    _find_serial_ports(serial_by_id_dir, candidates, diagnostics)
    candidates.sort(key=lambda c: not c.likely)
    return Discovery(tuple(candidates), tuple(diagnostics))


def evdev_candidate(
    path: str, name: str, vendor: int, product: int, key_codes: Iterable[int], by_id: str | None = None
) -> Candidate | None:
    """The candidate an input device makes, or None if it cannot type a barcode."""
    keys = set(key_codes)
    digits = {getattr(ecodes, f"KEY_{d}") for d in "0123456789"}
    if ecodes.KEY_ENTER not in keys or not digits <= keys:
        return None
    reasons = ["types digits and Enter"]
    reasons += _maker_reasons(name, vendor)
    return Candidate(
        kind="evdev",
        spec=f"evdev:{by_id or path}",
        name=name,
        usb_id=f"{vendor:04x}:{product:04x}" if vendor else None,
        reasons=tuple(reasons),
        likely=len(reasons) > 1,
    )


def serial_candidate(port: ListPortInfo, by_id: str | None = None) -> Candidate:
    name = " ".join(part for part in (port.manufacturer, port.product) if part) or port.description
    if port.vid is not None:
        reasons = ["USB serial port", *_maker_reasons(name, port.vid)]
        usb_id = f"{port.vid:04x}:{port.pid or 0:04x}"
    else:
        reasons = ["built-in serial port"]
        usb_id = None
    return Candidate(
        kind="serial",
        spec=f"serial:{by_id or port.device}",
        name=name if name != "n/a" else os.path.basename(port.device),
        usb_id=usb_id,
        reasons=tuple(reasons),
        likely=len(reasons) > 1,
    )


def _maker_reasons(name: str, vendor: int | None) -> list[str]:
    reasons = []
    words = [word for word in SCANNER_WORDS if word in name.casefold()]
    if words:
        reasons.append(f"name says {words[0]!r}")
    if vendor in SCANNER_VENDORS:
        reasons.append(f"USB vendor {vendor:04x} is {SCANNER_VENDORS[vendor]}")
    return reasons


def _find_input_devices(input_dir: str, candidates: list[Candidate], diagnostics: list[str]) -> None:
    if evdev is None:
        diagnostics.append("keyboard-wedge scanners cannot be listed: the 'evdev' package runs on Linux only")
        return
    nodes = event_nodes(input_dir)
    if not nodes:
        diagnostics.append(
            f"no input devices in {input_dir} (in a container or VM the devices must be passed through)"
        )
        return
    by_id = _links_by_target(os.path.join(input_dir, "by-id"), "*event*")
    denied: list[str] = []
    for path in nodes:
        try:
            device = evdev.InputDevice(path)
        except PermissionError:
            denied.append(path)
            continue
        except OSError as exc:
            if exc.errno not in (errno.ENODEV, errno.ENOENT):  # gone since listing: nothing to say
                diagnostics.append(describe_os_error(path, exc, usual_group="input"))
            continue
        try:
            candidate = evdev_candidate(
                path,
                device.name,
                device.info.vendor,
                device.info.product,
                device.capabilities().get(ecodes.EV_KEY, []),
                by_id.get(os.path.realpath(path)),
            )
        finally:
            device.close()
        if candidate is not None:
            candidates.append(candidate)
    if denied:
        which = denied[0] if len(denied) == 1 else f"{len(denied)} input devices ({denied[0]} ... {denied[-1]})"
        diagnostics.append(f"{which}: {permission_hint(denied[0], 'input')}")


def _find_serial_ports(by_id_dir: str, candidates: list[Candidate], diagnostics: list[str]) -> None:
    by_id = _links_by_target(by_id_dir, "*")
    for port in sorted(serial.tools.list_ports.comports()):
        if not os.access(port.device, os.R_OK | os.W_OK):
            diagnostics.append(f"{port.device}: {permission_hint(port.device, 'dialout')}")
        candidates.append(serial_candidate(port, by_id.get(os.path.realpath(port.device))))


def _links_by_target(directory: str, pattern: str) -> dict[str, str]:
    """udev's stable links (``by-id``) keyed by the node they point at."""
    return {os.path.realpath(link): link for link in sorted(glob.glob(os.path.join(directory, pattern)))}
