"""``ims scan decode``, ``ims scan listen`` and ``ims scanners`` through the real CLI entry point."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ims_tui.cli.main import main
from ims_tui.devices.discovery import discover_scanners
from tests.devices_fakes import Pty

GS1_128 = "]C101095011010209171719050810ABCD1234<GS>2110"


@pytest.fixture(autouse=True)
def empty_station_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "station.toml"
    config.write_text("")
    monkeypatch.setenv("IMS_CONFIG", str(config))
    return config


def test_decode_prints_the_fields_a_receiver_checks(capsys) -> None:
    assert main(["scan", "decode", GS1_128]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "symbology     GS1-128 (]C1)",
        "GTIN          09501101020917 (check digit ok)",
        "lot           ABCD1234",
        "expiry        2019-05-08",
        "serial        10",
    ]


def test_decode_json_before_or_after_the_command(capsys) -> None:
    for argv in (["--json", "scan", "decode", GS1_128], ["scan", "decode", GS1_128, "--json"]):
        assert main(argv) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["gtin"], data["lot"], data["expiry"], data["serial"]) == (
            "09501101020917", "ABCD1234", "2019-05-08", "10",
        )
        assert data["problems"] == []


def test_decode_with_problems_prints_them_and_exits_2(capsys) -> None:
    assert main(["scan", "decode", "--json", "]C1010950110153000417250229"]) == 2
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["gtin_valid"] is False
    assert len(data["problems"]) == 2
    assert captured.err == (
        "error: GTIN 09501101530004 has a wrong check digit (expected 3, got 4) - misread or mistyped (and 1 more)\n"
    )


def test_decode_plain_code_is_fine(capsys) -> None:
    assert main(["scan", "decode", "A-03-04"]) == 0
    assert capsys.readouterr().out == "code          A-03-04\n"


def test_listen_without_any_scanner_is_a_usage_error(capsys, empty_station_config: Path) -> None:
    assert main(["scan", "listen"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no scanner configured: pass --source SPEC or add a [[scanners]] entry")
    assert str(empty_station_config) in err


def test_listen_with_a_bad_spec_is_a_usage_error(capsys) -> None:
    assert main(["scan", "listen", "--source", "serial:/dev/ttyUSB0?baud=fast"]) == 2
    assert capsys.readouterr().err == (
        "error: scanner source 'serial:/dev/ttyUSB0?baud=fast': baud must be a whole number such as 9600, not 'fast'\n"
    )


def _keep_scanning(pty: Pty, stop: threading.Event, scans: list[bytes]) -> threading.Thread:
    """Play a scanner that scans every 20 ms: the CLI opens the port at some point and reads on."""

    def run() -> None:
        while not stop.wait(0.02):
            for scan in scans:
                pty.write(scan)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("config_or_option", ["option", "config"])
def test_listen_prints_decoded_scans_then_stops_at_count(
    capsys, tmp_path: Path, empty_station_config: Path, config_or_option: str
) -> None:
    pty = Pty()
    link = tmp_path / "ttyScanner"
    link.symlink_to(pty.slave_path)
    spec = f"serial:{link}?eol=cr"
    argv = ["scan", "listen", "--count", "2"]
    if config_or_option == "option":
        argv += ["--source", spec]
    else:
        empty_station_config.write_text(f'[[scanners]]\nsource = "{spec}"\n')
    stop = threading.Event()
    thread = _keep_scanning(pty, stop, [b"0109501101530003\r"])
    try:
        assert main(argv) == 0
    finally:
        stop.set()
        thread.join()
        pty.close()
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"serial:{link}  GTIN 09501101530003"] * 2
    assert captured.err == f"serial:{link}: connected\n"


def test_listen_json_is_one_object_per_line(capsys, tmp_path: Path) -> None:
    pty = Pty()
    link = tmp_path / "ttyScanner"
    link.symlink_to(pty.slave_path)
    stop = threading.Event()
    thread = _keep_scanning(pty, stop, [b"A-03-04\n"])
    try:
        assert main(["scan", "listen", "--json", "--count", "1", "--source", f"serial:{link}"]) == 0
    finally:
        stop.set()
        thread.join()
        pty.close()
    (line,) = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert (data["source"], data["plain_code"], data["problems"]) == (f"serial:{link}", "A-03-04", [])
    assert isinstance(data["at"], float)


def test_scanners_json_lists_what_discovery_finds(capsys) -> None:
    assert main(["scanners", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(discover_scanners().to_dict()))
