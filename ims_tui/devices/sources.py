"""Scanner sources from spec strings, and several sources read as one stream.

Spec strings (the ``source`` of a ``[[scanners]]`` entry, or ``ims scan listen --source``)::

    evdev:/dev/input/event3                          an input device node
    evdev:/dev/input/by-id/usb-Honeywell_1900-event-kbd   the same, stable across replugging
    evdev:name=Honeywell                             first keyboard-like device whose name
                                                     contains this (any case)
    evdev:id=0c2e:0b61                               USB vendor:product in hex, as lsusb shows
    serial:/dev/ttyACM0                              a serial port (9600 baud, CR/LF/CRLF)
    serial:/dev/ttyUSB0?baud=19200&eol=cr            with options

Options follow ``?`` as ``key=value`` joined by ``&``, percent-encoded where needed
(``%02`` for STX, ``%2B`` for ``+``, ``%26`` for ``&``):

- both: ``prefix``, ``suffix`` - text the scanner adds around each scan, stripped;
- serial: ``baud`` (default 9600), ``eol`` = ``cr`` | ``lf`` | ``crlf`` | ``any`` (default
  ``any``: a scan ends at CR or LF);
- evdev: ``layout`` (``us``, or a ``[layouts.<name>]`` table of the station config),
  ``grab`` = ``yes`` | ``no`` (default yes: scans stop being typed into other windows).

Options in the spec win over the ``layout``/``prefix``/``suffix`` fields of a config entry.
"""

from __future__ import annotations

import asyncio
import string
import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

from ims_tui.devices.base import ScanEvent, ScanSource
from ims_tui.devices.evdev_source import DeviceMatch, EvdevSource
from ims_tui.devices.serial_source import SerialSource

if TYPE_CHECKING:
    from ims_tui.config import ScannerConfig

Layouts = Mapping[str, Mapping[str, Sequence[str]]]

_SERIAL_OPTIONS = ("baud", "eol", "prefix", "suffix")
_EVDEV_OPTIONS = ("layout", "grab", "prefix", "suffix")
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def parse_source_spec(
    spec: str,
    *,
    layouts: Layouts | None = None,
    layout: str = "us",
    prefix: str = "",
    suffix: str = "",
) -> ScanSource:
    """Build the (not yet started) source a spec names; ``ValueError`` with one line if it cannot."""
    try:
        return _build_source(spec, layouts=layouts, layout=layout, prefix=prefix, suffix=suffix)
    except ValueError as exc:
        raise ValueError(f"scanner source {spec!r}: {exc}") from None


def _build_source(spec: str, *, layouts: Layouts | None, layout: str, prefix: str, suffix: str) -> ScanSource:
    kind, colon, rest = spec.partition(":")
    target, _, query = rest.partition("?")
    if not colon or kind not in ("evdev", "serial"):
        raise ValueError("expected evdev:<device> or serial:<port>")
    if not target:
        raise ValueError(f"no device after '{kind}:'")
    if kind == "serial":
        options = _options(query, _SERIAL_OPTIONS)
        return SerialSource(
            target,
            baudrate=_baud(options.get("baud", "9600")),
            eol=options.get("eol", "any"),
            prefix=options.get("prefix", prefix),
            suffix=options.get("suffix", suffix),
        )
    options = _options(query, _EVDEV_OPTIONS)
    grab = options.get("grab", "yes").lower()
    if grab not in _YES:
        raise ValueError(f"grab must be yes or no, not {grab!r}")
    return EvdevSource(
        _device_match(target),
        layout=options.get("layout", layout),
        layouts=layouts,
        prefix=options.get("prefix", prefix),
        suffix=options.get("suffix", suffix),
        grab=_YES[grab],
    )


def source_from_config(entry: ScannerConfig, layouts: Layouts | None = None) -> ScanSource:
    """The source of one ``[[scanners]]`` entry of the station config."""
    return parse_source_spec(
        entry.source, layouts=layouts, layout=entry.layout, prefix=entry.prefix, suffix=entry.suffix
    )


async def merge_scans(sources: Sequence[ScanSource]) -> AsyncIterator[ScanEvent]:
    """Scans from all ``sources`` in the order they arrive.

    Closing the iterator (or cancelling its task) stops every source and releases its device.
    """
    queue: asyncio.Queue[ScanEvent | BaseException] = asyncio.Queue()

    async def pump(source: ScanSource) -> None:
        try:
            async with aclosing(source.scans()) as scans:
                async for event in scans:
                    queue.put_nowait(event)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, not lost in a task
            queue.put_nowait(exc)

    tasks = [asyncio.create_task(pump(source), name=f"scanner {source.name}") for source in sources]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _options(query: str, allowed: Sequence[str]) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise ValueError("options must be key=value joined by '&'") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise ValueError(f"unknown option {key!r} (known: {', '.join(allowed)})")
        if key in options:
            raise ValueError(f"option {key!r} given twice")
        options[key] = value
    return options


def _baud(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"baud must be a whole number such as 9600, not {text!r}")
    return int(text)


def _device_match(target: str) -> DeviceMatch:
    if target.startswith("/"):
        return DeviceMatch(path=target)
    key, equals, value = target.partition("=")
    value = urllib.parse.unquote(value)
    if equals and key == "name" and value:
        return DeviceMatch(name=value)
    if equals and key == "id":
        vendor, _, product = value.partition(":")
        if len(vendor) == 4 and len(product) == 4 and all(c in string.hexdigits for c in vendor + product):
            return DeviceMatch(vendor=int(vendor, 16), product=int(product, 16))
        raise ValueError("id must be vendor:product in hex, such as 0c2e:0b61")
    raise ValueError("after 'evdev:' give a /dev/input path, name=<part of the name> or id=<vendor>:<product>")
