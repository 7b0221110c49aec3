"""Widgets and helpers for screens that read or write files: path completion, progress relay."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from textual.suggester import Suggester

PROGRESS_EVERY = 0.1
"""Seconds between progress updates passed to the UI thread."""


def complete_path(value: str, suffixes: tuple[str, ...] = ()) -> str | None:
    """``value`` extended to the first directory (with a slash) or file that starts with it.

    Files are offered only with one of ``suffixes`` (when given); hidden entries only once a dot
    is typed.  ``~`` works.  Returns None when nothing completes it.
    """
    if not value:
        return None
    directory, prefix = os.path.split(os.path.expanduser(value))
    names = []
    try:
        with os.scandir(directory or ".") as entries:
            for entry in entries:
                if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
                    continue
                if entry.is_dir():
                    names.append(entry.name + "/")
                elif not suffixes or entry.name.lower().endswith(suffixes):
                    names.append(entry.name)
    except OSError:
        return None
    longer = sorted(name for name in names if len(name) > len(prefix))
    return value + longer[0][len(prefix):] if longer else None


class PathSuggester(Suggester):
    """Suggests the rest of a path from the file system (off the UI thread, never cached)."""

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value, self.suffixes)


def progress_relay(app, show: Callable[[str, int, int], None]) -> Callable[[str, int, int], None]:
    """A service ``progress(phase, done, total)`` callback for a worker thread: passes at most ten
    updates a second (and always the last) to ``show`` on the UI thread."""
    last = 0.0

    def relay(phase: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done >= total:
            last = now
            app.call_from_thread(show, phase, done, total)

    return relay


__all__ = ["PathSuggester", "complete_path", "progress_relay"]
