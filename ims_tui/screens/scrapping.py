"""Scrap: the scrap flow (``flows/scrapping.py``) on the one flow screen."""

from __future__ import annotations

from ims_tui.flows.scrapping import ScrapFlow
from ims_tui.screens.flow import FlowScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.permissions import Permission


class ScrapScreen(FlowScreen):
    """Bin -> item -> reason: posted; above the approval value a manager's badge + PIN."""

    FLOW = ScrapFlow
    TITLE = "Scrap"
    HELP = (
        "Scan the bin, then the item to scrap (a case barcode counts its pack; type a number to change "
        "how many), then type the reason: damaged, expired, lost or sample. That posts it. Scrap worth more "
        "than the site's approval value rings and waits for a manager's badge and PIN."
    )


register_task(Task("scrap", "Scrap", "x", Permission.MOVE, ScrapScreen, "write off damaged, expired, lost goods"))
