"""On a machine without evdev (not Linux), devices still import; serial and decoding work."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_devices_work_without_evdev() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["evdev"] = None  # makes "import evdev" fail, as where it is not installed
        from ims_tui.devices.sources import parse_source_spec
        from ims_tui.devices.discovery import discover_scanners
        from ims_tui.devices.decode import decode_scan
        from ims_tui.devices import labels
        print(parse_source_spec("serial:/dev/ttyUSB0").name)
        try:
            parse_source_spec("evdev:/dev/input/event3")
        except ValueError as exc:
            print(exc)
        print(discover_scanners().diagnostics[0])
        print(decode_scan("]E05901234123457").gtin)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "serial:/dev/ttyUSB0",
        "scanner source 'evdev:/dev/input/event3': evdev scanners need the 'evdev' package, which runs on Linux only",
        "keyboard-wedge scanners cannot be listed: the 'evdev' package runs on Linux only",
        "05901234123457",
    ]
