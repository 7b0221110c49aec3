"""The picking station: the picking flow (``flows/picking.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.picking import PickingFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class PickingScreen(FlowScreen):
    """Pick list -> bin -> item, line by line in walking order."""

    FLOW = PickingFlow
    TITLE = "Pick"
    HELP = (
        "Scan or type the pick list (PK-...), or a confirmed sales order (SO-...) to make its list. "
        "The screen shows the next bin: scan it, then scan the item (product, case or GS1 label). "
        "The quantity is what is left: Enter or F10 posts it, each scan adds and the line posts itself "
        "when the scans reach it; type a number to pick fewer. F8 twice: the rest is not in the bin "
        "(short pick) - it is re-allocated from another bin (the list re-routes) or backordered. "
        "A wrong bin, item or lot rings and says why. Saved after every scan: open Pick again to carry on."
    )


register_task(Task("pick", "Pick", "f4", Permission.PICK, PickingScreen,
                   "pick lists in walking order: bin, item, short pick"))
