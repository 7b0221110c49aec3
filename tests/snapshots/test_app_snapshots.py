"""A screen cannot change without its screenshot: every main screen at 80x24 on the demo store
must render exactly as ``docs/screenshots/ims-<name>.svg`` shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.snapshots.screens import SCREENS, SCREENSHOTS, comparable, demo_template, render, use_utc


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    use_utc()
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("name", list(SCREENS))
async def test_screenshot_is_current(name, template, tmp_path):
    rendered = await render(name, template, tmp_path)
    saved = SCREENSHOTS / f"ims-{name}.svg"
    assert saved.exists(), f"no screenshot of {name}: run 'python -m tests.snapshots.screens'"
    if comparable(saved.read_text()) != comparable(rendered):
        (tmp_path / saved.name).write_text(rendered)
        pytest.fail(
            f"the {name} screen no longer looks like {saved.relative_to(SCREENSHOTS.parents[1])} "
            f"(now: {tmp_path / saved.name}); if the change is meant, run 'python -m tests.snapshots.screens'"
        )
