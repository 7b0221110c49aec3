"""Counting on the floor: the counting flow (``flows/counting.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.counting import CountingFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class CountingScreen(FlowScreen):
    """Cycle count, blind: count -> bin -> items -> F8 bin done -> next bin -> F10 submit."""

    FLOW = CountingFlow
    TITLE = "Count"
    HELP = (
        "Scan or type the count number, go to the bin the prompt names and scan it, then scan every "
        "item there: a case barcode counts its pack, a GS1 label its quantity and lot, a serial-tracked "
        "item one scan per serial (Enter when done). Type a number to set the count of the item just "
        "scanned. F8: bin done (what you did not scan there counts zero), F7: the bin is empty. "
        "F10 twice submits the count once every bin is done. Every scan is recorded at once; if the "
        "station drops, open Count again and carry on in the same bin. You never see what the store expects."
    )


register_task(Task("count", "Count", "f6", Permission.COUNT, CountingScreen,
                   "cycle count, blind: scan bins and items"))
