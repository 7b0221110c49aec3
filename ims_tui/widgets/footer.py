"""The station footer, F1 and the palette share one order of keys: the screen's own first, then
the user's tasks, then the generic keys (Back, Help, cursor keys of widgets).

:class:`StationFooter` shows as many whole keys as fit the width in that order and keeps F1
Help at the right; what does not fit is listed by F1.  Never a label cut mid-word.  For a role
that may see reorder alerts it ends with their number (``3 alerts``), which follows the app's
:attr:`~ims_tui.app.ImsApp.open_alerts` as other stations raise and clear them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label
from textual.widgets._footer import FooterKey

OWN, TASK, GENERIC = 0, 1, 2
"""The three kinds of key, in the order they are offered."""


@dataclass(frozen=True)
class KeyEntry:
    key: str
    display: str
    description: str
    active: ActiveBinding
    kind: int


def _kind(screen: Screen, active: ActiveBinding) -> int:
    if active.binding.action.startswith("open_task"):
        return TASK
    node = active.node
    if node is screen.app or active.binding.action in _TEXTUAL_SCREEN_ACTIONS:
        return GENERIC
    if node is screen or (type(node).__module__.startswith("ims_tui.") and active.binding.show):
        return OWN  # a list's own shown key (Enter Open) is the screen's; its cursor keys are not
    return GENERIC


_TEXTUAL_SCREEN_ACTIONS = frozenset(
    binding.action for binding in Screen.BINDINGS if isinstance(binding, Binding)
) | frozenset(binding.action for binding in ModalScreen.BINDINGS if isinstance(binding, Binding))
"""Keys every Textual screen has (copy, focus next): generic, not the screen's own."""


def ordered_keys(screen: Screen, *, shown_only: bool = False) -> list[KeyEntry]:
    """The enabled, described keys active on ``screen``: its own, then tasks, then generic keys.

    One entry per (key display, description); ``shown_only`` keeps only footer keys (``show``).
    """
    app = screen.app
    seen: set[tuple[str, str]] = set()
    entries: list[KeyEntry] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or not active.enabled or (shown_only and not binding.show):
            continue
        display = app.get_key_display(binding if binding.key == key else binding.with_key(key))
        if (display, binding.description) in seen:
            continue
        seen.add((display, binding.description))
        entries.append(KeyEntry(key, display, binding.description, active, _kind(screen, active)))
    return sorted(entries, key=lambda entry: entry.kind)  # stable: the screen's order within a kind


def label_width(entry: KeyEntry) -> int:
    """Cells one compact footer key takes: ``F1 Help`` and the gap after it."""
    return cell_len(entry.display) + 1 + cell_len(entry.description) + 1


def fit(entries: list[KeyEntry], width: int) -> list[KeyEntry]:
    """The entries shown in ``width`` cells: Help is kept; the rest in order while they fit whole."""
    help_entry = next((entry for entry in entries if entry.active.binding.action in ("help", "app.help")), None)
    room = width - 1 - (label_width(help_entry) if help_entry else 0)
    shown = []
    for entry in entries:
        if entry is help_entry:
            continue
        if label_width(entry) > room:
            break  # keep the order: a later short key never jumps ahead of a longer one
        shown.append(entry)
        room -= label_width(entry)
    return shown + ([help_entry] if help_entry else [])


def alert_badge(count: int | None) -> str:
    """The badge's words: ``1 alert``, ``12 alerts``; empty when the role may not see alerts."""
    if count is None:
        return ""
    return f"{count} alert" if count == 1 else f"{count} alerts"


class StationFooter(Footer):
    """The footer of every station screen: whole keys that fit, in the shared order, and the
    open-alerts badge at the right for roles that may see alerts."""

    DEFAULT_CSS = """
    StationFooter .alert-badge { dock: right; width: auto; padding: 0 1; color: $footer-description-foreground; }
    StationFooter .alert-badge.-open { background: $warning; color: $text; text-style: bold; }
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("compact", True)
        kwargs.setdefault("show_command_palette", False)
        super().__init__(**kwargs)

    @property
    def badge_text(self) -> str:
        return alert_badge(getattr(self.app, "open_alerts", None))

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        badge = self.badge_text
        width = (self.size.width or self.app.size.width) - (cell_len(badge) + 2 if badge else 0)
        for entry in fit(ordered_keys(self.screen, shown_only=True), width):
            binding = entry.active.binding
            yield FooterKey(entry.key, entry.display, entry.description, binding.action,
                            tooltip=binding.tooltip).data_bind(compact=Footer.compact)
        if badge:
            yield Label(badge, id="alert-badge", classes="alert-badge -open" if self.app.open_alerts else "alert-badge")

    def on_mount(self) -> None:
        if hasattr(self.app, "open_alerts"):
            self.watch(self.app, "open_alerts", self._alerts_changed, init=False)

    def _alerts_changed(self, _count: int | None) -> None:
        if self.is_attached:
            self.call_after_refresh(self.recompose)

    def on_resize(self) -> None:
        if self.is_attached:
            self.call_after_refresh(self.recompose)
