"""The registry of home-screen tasks: what a station offers, by role.

A feature module registers its task when its screen exists (``register_task(Task(...))`` at
import time) and adds its module path to :data:`TASK_MODULES`; the app imports them all when it
starts.  A task is shown and bound to its key only for roles whose permissions include it, so
there are never placeholder screens.

Keys (remappable by task id in the station config's ``[keys]`` table):
F2 Lookup, F3 Receive, F4 Pick, F5 Move, F6 Count, F7 Orders, F8 Replenish, F9 Reports,
F10 Admin, F11 Live; S Sales orders.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from textual.screen import Screen

from ims_tui.services.actor import Actor
from ims_tui.services.permissions import Permission, allows


@dataclass(frozen=True)
class Task:
    """A home-screen task: ``id`` doubles as its key-binding id for config remaps."""

    id: str
    title: str
    key: str
    permission: Permission
    screen: Callable[[], Screen]
    description: str = ""


TASK_MODULES: tuple[str, ...] = (
    "ims_tui.screens.lookup",
    "ims_tui.screens.receiving",
    "ims_tui.screens.picking",
    "ims_tui.screens.sales_orders",
    "ims_tui.screens.moving",
    "ims_tui.screens.counting",
    "ims_tui.screens.counts_review",
    "ims_tui.screens.scrapping",
    "ims_tui.screens.transfers",
    "ims_tui.screens.purchase_orders",
    "ims_tui.screens.replenishment",
    "ims_tui.screens.audit",
    "ims_tui.screens.live",
    "ims_tui.screens.import_wizard",
    "ims_tui.screens.export_dialog",
    "ims_tui.screens.reports",
)

_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add (or replace, on re-import) a task; returns it so modules can keep a reference."""
    _TASKS[task.id] = task
    return task


def load_tasks() -> list[Task]:
    """Import every task module: each registers its task as it is imported."""
    for name in TASK_MODULES:
        importlib.import_module(name)
    return all_tasks()


def all_tasks() -> list[Task]:
    return sorted(_TASKS.values(), key=_key_order)


def get_task(task_id: str) -> Task | None:
    return _TASKS.get(task_id)


def tasks_for(actor: Actor | None) -> list[Task]:
    """The tasks this user's role allows, in key order."""
    if actor is None:
        return []
    return [task for task in all_tasks() if allows(actor.role, task.permission)]


def _key_order(task: Task) -> tuple[int, str]:
    key = task.key.lower()
    if key.startswith("f") and key[1:].isdigit():
        return int(key[1:]), task.id
    return 100, key
