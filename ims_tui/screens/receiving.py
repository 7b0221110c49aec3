"""The receiving desk: the receiving flow (``flows/receiving.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.receiving import ReceivingFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class ReceivingScreen(FlowScreen):
    """Goods in: PO -> items -> bins -> F10."""

    FLOW = ReceivingFlow
    TITLE = "Receive"
    HELP = (
        "Scan the PO, then for each item: scan it (again to add a case or a unit, or type a quantity), "
        "give lot/expiry or serials when asked, and scan the bin (Enter takes the default bin). "
        "F10 posts everything at once. The receipt is saved after every scan: if the station drops, "
        "open Receive again and carry on. Ctrl+Z takes back the last step, Ctrl+R removes a line by number. "
        "Refused items ring the bell; a manager's badge + PIN approves."
    )


register_task(Task("receive", "Receive", "f3", Permission.RECEIVE, ReceivingScreen,
                   "goods in against a PO: scan items and bins"))
