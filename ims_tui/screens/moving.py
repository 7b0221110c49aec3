"""Bin-to-bin moves: the moving flow (``flows/moving.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.moving import MovingFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class MovingScreen(FlowScreen):
    """Source bin -> items -> destination bin: one posting."""

    FLOW = MovingFlow
    TITLE = "Move"
    HELP = (
        "Scan the bin you take the goods from, then every item you take (a case barcode counts its pack, "
        "a GS1 label its quantity, lot and serial; type a number to set how many of the item just scanned), "
        "then scan the bin you put them in: everything moves at once, in one posting. The list is saved "
        "after every scan. Ctrl+Z takes back the last scan, Ctrl+R removes a line by number, F12 twice "
        "throws the move away."
    )


register_task(Task("move", "Move", "f5", Permission.MOVE, MovingScreen, "bin to bin: scan source, items, destination"))
