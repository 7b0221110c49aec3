"""Snapshots of the screens people stare at, at 80x24 (pytest-textual-snapshot; sync tests)."""

from __future__ import annotations

import pytest

from tests.snapshots.screens import SCREENS, SIZE, snapshot_app, use_utc


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_snapshot(name, snap_compare, tmp_path):
    use_utc()
    app = snapshot_app(tmp_path)
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=SCREENS[name])
    finally:
        app.store.dispose()
