"""Telling a keyboard-wedge scan from typing, and the message a scan becomes.

A wedge scanner "types" its code into the terminal: every character is its own key event, a
burst microseconds to a few milliseconds apart, ended by a terminator (Enter, LF or Tab, as the
scanner is configured).  A person types about 100 ms per key.  :class:`ScanDetector` holds
printable keys back while they arrive in a burst; when a terminator ends a burst long enough
to be a code, the held keys become one scan and never reach the focused widget.  Anything
else (a slow key, a pause, any other key) releases the held keys unchanged and in order, so
typing by hand behaves exactly as typing, only up to ``max_gap`` later.

Where a scan must never be split (the sign-in screen: half a badge in the user name, the rest
in the password), the app sets ``late_gap``: a burst of at least two keys may then go on after
ONE pause longer than ``max_gap`` but within ``late_gap`` (a scanner whose keys reach the
terminal bunched in two reads).  A person's keys are not a burst in the first place, so their
typing is not delayed; at worst two keys rolled over inside ``max_gap`` wait ``late_gap``.

GS (``\\x1d``, the GS1 field separator) arrives as ``ctrl+right_square_bracket``; a plain
``Input`` drops it, so the detector keeps it in the scan text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from textual.message import Message

GS = "\x1d"
TERMINATOR_KEYS = frozenset({"enter", "ctrl+j", "tab"})
"""CR arrives as ``enter``, LF as ``ctrl+j``, Tab as ``tab``."""

E = TypeVar("E")


class Scanned(Message):
    """A complete scan, from the keyboard wedge or a device source (evdev, serial)."""

    def __init__(self, text: str, source: str = "wedge") -> None:
        super().__init__()
        self.text = text
        self.source = source

    def __repr__(self) -> str:
        return f"Scanned({self.text!r}, source={self.source!r})"


@dataclass
class Verdict(Generic[E]):
    """What to do after a key: replay ``release`` in order, then pass the key on or take ``scan``."""

    release: list[E] = field(default_factory=list)
    pass_key: bool = False
    scan: str | None = None


class ScanDetector(Generic[E]):
    """Key-timing state machine; knows nothing of Textual beyond key names.

    ``max_gap``: the longest pause between two keys of one scan (seconds).
    ``min_length``: the fewest characters a scan has; shorter bursts are typing.
    """

    def __init__(self, *, max_gap: float = 0.035, min_length: int = 4) -> None:
        self.max_gap = max_gap
        self.min_length = min_length
        self.late_gap = 0.0
        """Set by the app per screen; 0 allows no late pause (see the module doc)."""
        self._held: list[tuple[E, str]] = []
        self._last_at = 0.0
        self._late_used = False

    @property
    def holding(self) -> bool:
        return bool(self._held)

    @property
    def last_key_at(self) -> float:
        return self._last_at

    @property
    def window(self) -> float:
        """How long after the last held key the burst may still go on."""
        return self.late_gap if self._may_pause() else self.max_gap

    def _may_pause(self) -> bool:
        return self.late_gap > self.max_gap and not self._late_used and len(self._held) >= 2

    def feed(self, key: str, character: str | None, at: float, event: E) -> Verdict[E]:
        """Decide about one key event that arrived at time ``at`` (the event's own time)."""
        gap = at - self._last_at
        in_burst = bool(self._held) and gap <= self.max_gap
        if not in_burst and self._held and self._may_pause() and gap <= self.late_gap:
            in_burst = self._late_used = True
        char = _scan_character(key, character)
        if char is not None:
            verdict: Verdict[E] = Verdict(release=[] if in_burst else self._take())
            self._held.append((event, char))
            self._last_at = at
            return verdict
        if key in TERMINATOR_KEYS and in_burst and len(self._held) >= self.min_length:
            text = "".join(char for _, char in self._held)
            self._held.clear()
            self._late_used = False
            return Verdict(scan=text)
        return Verdict(release=self._take(), pass_key=True)

    def flush(self, now: float) -> list[E]:
        """The held keys, once the burst is over (no key for longer than :attr:`window`)."""
        if self._held and now - self._last_at > self.window:
            return self._take()
        return []

    def _take(self) -> list[E]:
        events = [event for event, _ in self._held]
        self._held.clear()
        self._late_used = False
        return events


def _scan_character(key: str, character: str | None) -> str | None:
    """The character a key adds to a scan, or None when the key cannot be part of one."""
    if character == GS or key == "ctrl+right_square_bracket":
        return GS
    if character is not None and len(character) == 1 and character.isprintable():
        return character
    return None
