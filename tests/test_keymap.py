"""A station's key remaps are checked at start-up: an unknown id or a collision stops it in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ims_tui.screens.keymap import binding_scopes, keymap_problems


def start(tmp_path, keys: str) -> subprocess.CompletedProcess:
    config = tmp_path / "station.toml"
    config.write_text("[keys]\n" + keys)
    env = {**os.environ, "IMS_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "ims_tui", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("keys", "line"), [
    ('lokup = "f6"\n', "error: [keys]: unknown binding id 'lokup'"),
    ('lookup = "f3"\n', "error: [keys]: f3 is bound to both lookup and receive"),
    ('"receive.confirm" = "f12"\n', "error: [keys]: f12 is bound to both audit and receive.confirm and receive.discard"),
])
def test_a_bad_remap_stops_start_up_with_one_line_naming_it(tmp_path, keys, line):
    done = start(tmp_path, keys)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "x.db").exists()  # refused before the store was even opened


def test_good_remaps_and_the_defaults_pass():
    scopes = binding_scopes()
    assert keymap_problems({}, scopes) == []  # a screen's escape shadowing the app's back is by design
    assert keymap_problems({"lookup": "ctrl+k", "help": "f1,question_mark", "receive.undo": "ctrl+u"}, scopes) == []
    assert "f10 is bound to both back and receive.confirm" in keymap_problems({"back": "f10"}, scopes)
