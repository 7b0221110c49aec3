"""Inter-warehouse transfers: the transfers flow (``flows/transfers.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.transfers import TransfersFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class TransfersScreen(FlowScreen):
    """Open transfers; ship from bins (F10), receive by scans, close (F12 twice, managers)."""

    FLOW = TransfersFlow
    TITLE = "Transfers"
    HELP = (
        "The open transfers between warehouses are listed (they follow the other stations). Scan or type "
        "a transfer number. Not shipped yet: scan the bins to ship from, then F10 ships every line into "
        "transit in one posting. Shipped: scan each item that arrived (type a number to set how many), "
        "then the bin it goes to. F12 twice closes the transfer (managers): what did not arrive is written off."
    )


register_task(Task("transfers", "Transfers", "t", Permission.LOOKUP, TransfersScreen,
                   "between warehouses: ship, receive by scans, close"))
