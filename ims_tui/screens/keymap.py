"""Checking a station's key remaps (``[keys]`` in the station file) before the app starts.

Every binding has an id; ``[keys]`` maps ids to keys (``lookup = "f6"``, ``help = "f1,question_mark"``).
A remap naming an id no binding has, or putting two actions on one key where both are live at
once (the app's keys and task keys together; each screen's own keys), is refused at start-up
with one line naming them - never found out later at the keyboard.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Iterable, Mapping

from textual.binding import Binding
from textual.dom import DOMNode

from ims_tui.services.errors import BadInput


def _split(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def _ids_and_keys(bindings: Iterable[Binding | tuple]) -> list[tuple[str, str]]:
    found = []
    for binding in bindings:
        if isinstance(binding, Binding) and binding.id:
            found.append((binding.id, binding.key))
    return found


def binding_scopes() -> dict[str, list[tuple[str, str]]]:
    """(binding id, default keys) per scope: ``app`` (app keys and task keys) and each screen or
    widget class of ims that has bindings of its own."""
    import ims_tui.screens
    import ims_tui.widgets
    from ims_tui.app import ImsApp
    from ims_tui.screens.tasks import load_tasks

    for package in (ims_tui.screens, ims_tui.widgets):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    tasks = load_tasks()
    scopes: dict[str, list[tuple[str, str]]] = {
        "app": _ids_and_keys(ImsApp.BINDINGS) + [(task.id, task.key) for task in tasks],
    }
    seen: set[type] = set()
    pending = list(DOMNode.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("ims_tui.") and "BINDINGS" in cls.__dict__ and cls is not ImsApp:
            own = _ids_and_keys(cls.__dict__["BINDINGS"])
            if own:
                scopes[f"{cls.__module__}.{cls.__qualname__}"] = own
    return scopes


def keymap_problems(keymap: Mapping[str, str], scopes: Mapping[str, list[tuple[str, str]]]) -> list[str]:
    """What is wrong with ``keymap`` (binding id -> keys), one line each; empty when it is fine."""
    known = {binding_id for bindings in scopes.values() for binding_id, _ in bindings}
    problems = [f"unknown binding id {binding_id!r}" for binding_id in keymap if binding_id not in known]
    app_scope = scopes.get("app", [])
    reported: set[tuple[str, frozenset[str]]] = set()
    for name, bindings in scopes.items():
        live = bindings if name == "app" else [*app_scope, *bindings]
        by_key: dict[str, set[str]] = defaultdict(set)
        moved: dict[str, set[str]] = defaultdict(set)  # ids a remap put on a key they did not have
        for binding_id, default in live:
            for key in _split(keymap.get(binding_id, default)):
                by_key[key].add(binding_id)
                if key not in _split(default):
                    moved[key].add(binding_id)
        for key, ids in sorted(by_key.items()):
            # a screen's own key may shadow an app key by design (escape: back); a remap may not
            if len(ids) > 1 and moved[key]:
                marker = (key, frozenset(ids))
                if marker not in reported:
                    reported.add(marker)
                    problems.append(f"{key} is bound to both {' and '.join(sorted(ids))}")
    return problems


def check_keymap(keymap: Mapping[str, str]) -> None:
    """Refuse a station's ``[keys]`` that names an unknown binding or puts two actions on one key."""
    if not keymap:
        return
    problems = keymap_problems(keymap, binding_scopes())
    if problems:
        raise BadInput("[keys]: " + "; ".join(problems))


__all__ = ["binding_scopes", "check_keymap", "keymap_problems"]
