"""Keyboard-wedge scanners read straight from Linux input devices (evdev).

Reading the device instead of the terminal means scans reach the station even when
another window has the focus, and (with ``grab``) they stop being typed into it.

Facts this module is built on (measured, see GUIDE.md section 5):

- one ``async_read_loop()`` iterator per opened device for its whole life: a new iterator
  per scan drops the rest of a 64-event read batch;
- ``grab()`` only once no key is held, or the desktop never sees the release and repeats
  the key forever;
- an unplugged device fails its read with ``OSError`` errno 19 (ENODEV): reopen with backoff;
- on cancel, remove the reader from the loop and close the device, or a stale reader eats
  the next batch.

The ``evdev`` package is imported guarded, so this module imports everywhere; building a
source on a machine without it raises ``ValueError`` saying so.
"""

from __future__ import annotations

import asyncio
import errno
import glob
import os
import string
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ims_tui.devices.base import CONNECTED, ScanEvent, ScanSource, StateCallback, describe_os_error, strip_affixes

try:
    import evdev
    from evdev import ecodes
except ImportError:  # not Linux, or the package is not installed
    evdev = None
    ecodes = None

Keymap = dict[int, tuple[str, str]]
"""Key code -> (character, character with Shift)."""

US_LAYOUT: dict[str, tuple[str, str]] = {
    **{f"KEY_{c}": (c.lower(), c) for c in string.ascii_uppercase},
    **{f"KEY_{d}": (d, s) for d, s in zip("1234567890", "!@#$%^&*()", strict=True)},
    **{f"KEY_KP{d}": (d, d) for d in string.digits},
    "KEY_MINUS": ("-", "_"),
    "KEY_EQUAL": ("=", "+"),
    "KEY_LEFTBRACE": ("[", "{"),
    "KEY_RIGHTBRACE": ("]", "}"),
    "KEY_BACKSLASH": ("\\", "|"),
    "KEY_SEMICOLON": (";", ":"),
    "KEY_APOSTROPHE": ("'", '"'),
    "KEY_GRAVE": ("`", "~"),
    "KEY_COMMA": (",", "<"),
    "KEY_DOT": (".", ">"),
    "KEY_SLASH": ("/", "?"),
    "KEY_SPACE": (" ", " "),
    "KEY_TAB": ("\t", "\t"),
    "KEY_KPDOT": (".", "."),
    "KEY_KPMINUS": ("-", "-"),
    "KEY_KPPLUS": ("+", "+"),
    "KEY_KPASTERISK": ("*", "*"),
    "KEY_KPSLASH": ("/", "/"),
}
"""The built-in layout.  Other layouts are overrides of it, from ``[layouts.<name>]``."""


def require_evdev() -> Any:
    if evdev is None:
        raise ValueError("evdev scanners need the 'evdev' package, which runs on Linux only")
    return evdev


def build_keymap(layout: str = "us", layouts: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> Keymap:
    """The key table for ``layout``: US, with the station config's overrides for other names.

    An override maps a key name to ``[char]`` or ``[char, shifted char]``, e.g.
    ``KEY_Z = ["y", "Y"]`` for a German keyboard.
    """
    require_evdev()
    names = dict(US_LAYOUT)
    if layout != "us":
        layouts = layouts or {}
        if layout not in layouts:
            known = ", ".join(["us", *sorted(layouts)])
            raise ValueError(f"unknown keyboard layout {layout!r} (known: {known})")
        for key, chars in layouts[layout].items():
            names[key] = _layout_entry(layout, key, chars)
    keymap: Keymap = {}
    for key, chars in names.items():
        code = ecodes.ecodes.get(key)
        if code is None or not key.startswith("KEY_"):
            raise ValueError(f"layout {layout!r}: {key!r} is not an evdev key name such as KEY_Z")
        keymap[code] = chars
    return keymap


def _layout_entry(layout: str, key: str, chars: Sequence[str]) -> tuple[str, str]:
    if (
        isinstance(chars, str)
        or not 1 <= len(chars) <= 2
        or not all(isinstance(c, str) and len(c) == 1 for c in chars)
    ):
        raise ValueError(f"layout {layout!r}: {key} must be [\"x\"] or [\"x\", \"X\"], not {chars!r}")
    return (chars[0], chars[-1] if len(chars) == 2 else chars[0].upper())


@dataclass(frozen=True)
class DeviceMatch:
    """Which input device a source reads: by path, by name, or by USB vendor:product id."""

    path: str | None = None
    name: str | None = None
    """Case-insensitive part of the device name, e.g. ``Honeywell``."""
    vendor: int | None = None
    product: int | None = None

    def __str__(self) -> str:
        if self.path:
            return self.path
        if self.name:
            return f"name={self.name}"
        return f"id={self.vendor:04x}:{self.product:04x}"

    def matches(self, name: str, vendor: int, product: int) -> bool:
        if self.name is not None:
            return self.name.casefold() in name.casefold()
        return (vendor, product) == (self.vendor, self.product)


def open_input_device(match: DeviceMatch) -> Any:
    """Open the device ``match`` names; OSError (ENOENT, EACCES ...) when it cannot."""
    require_evdev()
    if match.path:
        return evdev.InputDevice(match.path)
    denied: OSError | None = None
    for path in event_nodes():
        try:
            device = evdev.InputDevice(path)
        except PermissionError as exc:
            denied = exc
            continue
        except OSError:
            continue  # vanished between listing and opening
        if match.matches(device.name, device.info.vendor, device.info.product) and _types_text(device):
            return device
        device.close()
    if denied is not None:
        raise denied
    raise FileNotFoundError(errno.ENOENT, f"no input device matches {match}")


def event_nodes(input_dir: str = "/dev/input") -> list[str]:
    """All event device nodes, readable or not (``evdev.list_devices`` hides unreadable ones,
    which would turn "permission denied" into "not found")."""
    return sorted(glob.glob(os.path.join(input_dir, "event*")), key=_natural)


def _natural(path: str) -> tuple[str, int]:
    head = path.rstrip(string.digits)
    return head, int(path[len(head) :] or 0)


def _types_text(device: Any) -> bool:
    """Scanners expose extra devices (consumer control, mouse); the keyboard one has Enter."""
    return ecodes.KEY_ENTER in device.capabilities().get(ecodes.EV_KEY, [])


class KeyDecoder:
    """Key events in, scans out: characters with Shift/Ctrl applied, Enter ends a scan."""

    def __init__(self, keymap: Keymap, *, prefix: str = "", suffix: str = "", held: Iterable[int] = ()) -> None:
        require_evdev()
        self.keymap = keymap
        self.prefix = prefix
        self.suffix = suffix
        self.held: set[int] = set(held)
        self._chars: list[str] = []
        self._shift = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
        self._ctrl = {ecodes.KEY_LEFTCTRL, ecodes.KEY_RIGHTCTRL}
        self._enter = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}

    def feed(self, event: Any) -> str | None:
        """Take one input event; return the scan it completes, if any."""
        if event.type != ecodes.EV_KEY:
            return None
        if event.value == 0:
            self.held.discard(event.code)
            return None
        if event.value != 1:
            return None  # auto-repeat: a scanner never holds a key down on purpose
        self.held.add(event.code)
        if event.code in self._enter:
            text = strip_affixes("".join(self._chars), self.prefix, self.suffix)
            self._chars.clear()
            return text or None
        chars = self.keymap.get(event.code)
        if chars is not None:
            char = chars[1] if self.held & self._shift else chars[0]
            if self.held & self._ctrl:
                char = _control_character(char)
            if char:
                self._chars.append(char)
        return None


def _control_character(char: str) -> str:
    """Ctrl+letter and Ctrl+[\\]^_ give ASCII control codes; Ctrl+] is GS, the GS1 separator."""
    code = ord(char.upper())
    return chr(code - 0x40) if 0x40 <= code <= 0x5F else ""


class EvdevSource(ScanSource):
    """Scans from a keyboard-wedge scanner's input device; reconnects after unplugging."""

    def __init__(
        self,
        match: DeviceMatch,
        *,
        layout: str = "us",
        layouts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        prefix: str = "",
        suffix: str = "",
        grab: bool = True,
        open_device: Callable[[DeviceMatch], Any] = open_input_device,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
        on_state: StateCallback | None = None,
    ) -> None:
        super().__init__(
            f"evdev:{match}",
            reconnect_delay=reconnect_delay,
            max_reconnect_delay=max_reconnect_delay,
            on_state=on_state,
        )
        self.match = match
        self.keymap = build_keymap(layout, layouts)
        self.prefix = prefix
        self.suffix = suffix
        self.grab = grab
        self.open_device = open_device

    async def scans(self) -> AsyncIterator[ScanEvent]:
        loop = asyncio.get_running_loop()
        delay = self.reconnect_delay
        while True:
            try:
                device = self.open_device(self.match)
            except OSError as exc:
                self._set_state(f"disconnected: {self._describe(exc)}")
                await asyncio.sleep(delay)
                delay = self._next_delay(delay)
                continue
            delay = self.reconnect_delay
            try:
                decoder = KeyDecoder(self.keymap, prefix=self.prefix, suffix=self.suffix, held=device.active_keys())
                grab_pending = self.grab
                self._set_state(CONNECTED)
                events = device.async_read_loop()
                while True:
                    if grab_pending and not decoder.held:
                        device.grab()
                        grab_pending = False
                    text = decoder.feed(await anext(events))
                    if text is not None:
                        yield ScanEvent(text, self.name, time.time())
            except OSError as exc:
                self._set_state(f"disconnected: {self._describe(exc)}")
            finally:
                _release(loop, device)
            await asyncio.sleep(delay)

    def _describe(self, exc: OSError) -> str:
        return describe_os_error(self.match.path or str(self.match), exc, usual_group="input")


def _release(loop: asyncio.AbstractEventLoop, device: Any) -> None:
    """Remove the device's reader from the loop, then close it.

    A cancelled read leaves its reader registered; left there it eats the first batch of
    whatever device gets the same file descriptor next.  evdev's own ``close()`` removes it
    only from the loop it guesses (``get_event_loop()`` before 2.0); this is the loop the
    source read on.
    """
    fd = device.fileno()
    if fd >= 0 and not loop.is_closed():
        loop.remove_reader(fd)
    device.close()
