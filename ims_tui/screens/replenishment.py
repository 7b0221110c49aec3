"""Replenishment on the station: the open reorder alerts (live, paged) and the suggested POs.

The alert list shows, for each product and warehouse whose projected stock (on hand - reserved -
backordered + open PO lines due within the lead time) is below its reorder point: the projected
stock, the reorder point, what is on order, the suggested order, the preferred supplier and the
date to order by.  It follows every station's postings, reservations and PO changes.

The suggested POs are grouped by preferred supplier; a manager changes a line's quantity (``q``,
0 leaves it out) and creates one draft PO per supplier with one key pressed twice (``c``).  A
second run creates nothing an open PO already covers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from ims_tui.screens.base import StoreChanged
from ims_tui.screens.purchase_orders import StationScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import replenishment
from ims_tui.services.errors import BadInput, ImsError
from ims_tui.services.permissions import Permission
from ims_tui.services.replenishment import AlertView, CreatedOrder, SuggestionLine, SupplierSuggestion
from ims_tui.values import format_money, format_quantity, parse_quantity, whole_unit_refusal
from ims_tui.widgets.paged_list import PagedList

PAGE = 50
CSS = Path(__file__).with_name("purchase_orders.tcss")
"""The purchase-order screens' layout: head lines, a list, the prompt and message lines."""

LIVE_TOPICS = ("alerts", "stock", "purchase_orders", "sales_orders", "products")
"""Changes that move projected stock or the settings: the lists re-read on any of them."""


def today() -> dt.date:
    return dt.date.today()


def _qty(value: Decimal) -> str:
    return format_quantity(value)


def _cut(text: str, width: int) -> str:
    """``text`` in ``width`` cells, with an ellipsis when it is longer."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _order_by(date: dt.date | None) -> Text:
    """The order-by date; a date already past is marked ``!`` (and red) - late to order."""
    if date is None:
        return Text(f"{'-':<11}")
    late = date < today()
    return Text(f"{date.isoformat() + ('!' if late else ''):<11}", "bold red" if late else "")


# -- the alert list ---------------------------------------------------------------------------------

ALERT_FIXED = 12 + 5 + 10 + 8 + 9 + 8 + 1 + 11
"""SKU, warehouse, projected, reorder point, on order, suggested, the supplier's gap, order by."""


def _alert_widths(width: int) -> tuple[int, int]:
    """(name, supplier) widths at ``width``: the supplier takes up to 20, the name the rest (>= 8)."""
    room = max(width - ALERT_FIXED, 6)
    supplier = min(room, 20)
    name = room - supplier - 1
    return (name, supplier) if name >= 8 else (0, room)


def alert_header(width: int) -> Text:
    name, supplier = _alert_widths(width)
    return Text(
        f"{'SKU':<12}" + (f"{'Name':<{name}} " if name else "")
        + f"{'Whse':<5}{'Projected':>9} {'Reorder':>7} {'On order':>8} {'Suggest':>7} "
        + f"{'Supplier':<{supplier}} {'Order by':<11}",
        style="bold",
    )


def render_alert(alert: AlertView, width: int) -> Text:
    """One alert on one line; a negative projection is red, a late order-by date is marked."""
    name, supplier = _alert_widths(width)
    suggested = _qty(alert.suggested_qty) if alert.suggested_qty else "transfer"
    return Text.assemble(
        (f"{_cut(alert.sku, 11):<12}", "bold"),
        f"{_cut(alert.name, name - 1):<{name}} " if name else "",
        f"{_cut(alert.warehouse, 4):<5}",
        (f"{_qty(alert.projected):>9} ", "bold red" if alert.projected < 0 else "bold"),
        f"{_qty(alert.reorder_point):>7} ",
        f"{_qty(alert.on_order):>8} ",
        (f"{suggested:>7} ", "bold"),
        f"{_cut(alert.supplier or '-', supplier):<{supplier}} ",
        _order_by(alert.order_by),
    )


def alert_detail(alert: AlertView | None) -> Text:
    """Two lines on the alert under the cursor: what it is, and how its projection is made."""
    if alert is None:
        return Text("")
    since = alert.since.astimezone().strftime("%Y-%m-%d %H:%M") if alert.since else "-"
    where = "" if alert.suggested_qty else ", not its home warehouse: fill it by a transfer"
    return Text.assemble(
        (alert.sku, "bold"), f" in alert since {since}{where}: {alert.name} ({alert.uom})\n",
        ("projected ", ""), (_qty(alert.projected), "bold"),
        f" = on hand {_qty(alert.on_hand)} - reserved {_qty(alert.reserved)} - backordered {_qty(alert.backordered)}"
        f" + due within lead time {_qty(alert.incoming)}",
    )


class ReplenishScreen(StationScreen):
    """The open reorder alerts, oldest first, paged from the store and live."""

    TITLE = "Replenish"
    CSS_PATH = CSS
    FOCUS_AFTER_ASKING = "#alert-list"
    HELP = ("Products whose projected stock (on hand - reserved - backordered + open POs due within the lead time) "
            "is below their reorder point, per warehouse, oldest alert first; the list follows every station. "
            "Enter opens the product (r there sets its reorder settings). o reviews the suggested POs and creates "
            "them; / searches by SKU or name; u re-checks every alert (POs coming within their lead time as days pass). "
            "An order-by date marked ! is already past.")
    BINDINGS = [
        Binding("o", "suggested", "Suggested POs", id="replenish.suggested"),
        Binding("slash", "search", "Search", id="replenish.search"),
        Binding("u", "recheck", "Re-check", id="replenish.recheck"),
        Binding("escape", "escape", "Back", id="replenish.back"),
    ]
    REQUIRES = {"suggested": Permission.REPLENISH, "recheck": Permission.REPLENISH}
    DEFAULT_CSS = """
    ReplenishScreen #alert-columns { height: 1; }
    ReplenishScreen #alert-list { scrollbar-gutter: stable; overflow-x: hidden; }
    ReplenishScreen #alert-detail { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.search = ""
        self.mode: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="alert-filter", classes="status-line")
        yield Static("", id="alert-columns")
        yield PagedList(render_alert, empty_text="no open alerts: every product is above its reorder point",
                        id="alert-list")
        yield Static("", id="alert-detail")
        yield from self.compose_prompt()

    @property
    def alerts(self) -> PagedList[AlertView]:
        return self.query_one("#alert-list", PagedList)

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.alerts.focus()
        self.watch(self.alerts, "cursor", lambda _: self._show_detail(), init=False)
        self.watch(self.app, "open_alerts", lambda _: self._show_filter(), init=False)
        self.load()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_columns)

    def _show_columns(self) -> None:
        """The column heads, at the width the rows are drawn in (the list's, less its scrollbar)."""
        self.query_one("#alert-columns", Static).update(alert_header(self.alerts.scrollable_content_region.width))

    def load(self) -> None:
        store, actor, search = self.app.store, self.app.actor, self.search

        def fetch(offset: int | None) -> tuple[list[AlertView], int | None]:
            start = offset or 0
            rows = replenishment.list_alerts(store, actor, offset=start, limit=PAGE + 1, search=search)
            return rows[:PAGE], start + PAGE if len(rows) > PAGE else None

        self.alerts.load(fetch)

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        if event.error:
            self.say(event.error, error=True)
        self.on_resize()
        self._show_filter()
        self._show_detail()

    def _show_filter(self) -> None:
        count = self.app.open_alerts
        shown = f"{len(self.alerts.rows)}{'+' if self.alerts.has_more else ''}"
        total = f"{count} open alert{'' if count == 1 else 's'}" if count is not None else f"{shown} open alerts"
        search = f", {shown} matching {self.search!r}" if self.search else ""
        self.query_one("#alert-filter", Static).update(f"{total}{search}")

    def _show_detail(self) -> None:
        self.query_one("#alert-detail", Static).update(alert_detail(self.alerts.highlighted))

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        from ims_tui.screens.product import ProductScreen

        self.app.push_screen(ProductScreen(event.row.sku))

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches(*LIVE_TOPICS):
            self.alerts.reload()

    def on_screen_resume(self) -> None:
        self.alerts.reload()

    def action_suggested(self) -> None:
        self.app.push_screen(SuggestedOrdersScreen())

    def action_search(self) -> None:
        self._ask("search", "Search SKU or name (Enter; empty shows all)", self.search)

    def action_recheck(self) -> None:
        self.call(replenishment.refresh_alerts, self.app.store, self.app.actor,
                  then=lambda changed: self.say(f"re-checked every alert: {changed} changed"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode, event.value.strip()
        self._done_asking()
        if mode == "search":
            self.search = text
            self.load()


# -- the suggested purchase orders ----------------------------------------------------------------


@dataclass(frozen=True)
class SupplierRow:
    """A supplier's heading in the suggestion list (``supplier`` None: no preferred supplier)."""

    supplier: str | None
    lines: int
    value: Decimal
    order_by: dt.date | None


@dataclass(frozen=True)
class LineRow:
    """One suggested line, with the quantity the manager chose (``qty``) if it differs."""

    line: SuggestionLine
    qty: Decimal

    @property
    def changed(self) -> bool:
        return self.qty != self.line.qty

    @property
    def value(self) -> Decimal:
        return self.qty * self.line.unit_cost


SUGGEST_FIXED = 2 + 12 + 10 + 8 + 7 + 7 + 10 + 11
"""Indent, SKU, projected, reorder point, MOQ, pack, quantity, order by (each with its gap)."""


def suggestion_header(width: int) -> Text:
    name = max(width - SUGGEST_FIXED, 0)
    return Text(
        f"  {'SKU':<12}" + (f"{'Name':<{name}}" if name else "")
        + f"{'Projected':>9} {'Reorder':>7} {'MOQ':>6} {'Pack':>6} {'Quantity':>9} {'Order by':<11}",
        style="bold",
    )


def render_suggestion(row: SupplierRow | LineRow, width: int) -> Text:
    """A supplier's heading, or one line of theirs; a changed quantity is marked ``*``."""
    if isinstance(row, SupplierRow):
        who = row.supplier or "No preferred supplier - not ordered (set one with r on the product)"
        by = f", order by {row.order_by.isoformat()}" if row.order_by and row.supplier else ""
        return Text.assemble((who, "bold reverse" if row.supplier else "bold"),
                             f"  {row.lines} line{'' if row.lines == 1 else 's'}, value {format_money(row.value)}{by}")
    line, name = row.line, max(width - SUGGEST_FIXED, 0)
    quantity = "left out" if row.qty == 0 else _qty(row.qty) + ("*" if row.changed else "")
    return Text.assemble(
        "  ", (f"{_cut(line.sku, 11):<12}", "bold"),
        f"{_cut(line.name, name - 1):<{name}}" if name else "",
        f"{_qty(line.projected):>9} {_qty(line.reorder_point):>7} {_qty(line.min_order_qty):>6} {_qty(line.pack_qty):>6} ",
        (f"{quantity:>9} ", "bold yellow" if row.changed else "bold"),
        _order_by(line.order_by),
    )


def suggestion_detail(row: SupplierRow | LineRow | None) -> Text:
    """Two lines on the line under the cursor: the product and its demand, and how the suggested
    quantity is made."""
    if not isinstance(row, LineRow):
        return Text("")
    line = row.line
    run_out = f"runs out {line.run_out.isoformat()}" if line.run_out else "no recent demand"
    chosen = f", you chose {_qty(row.qty)}" if row.changed else ""
    projected = _qty(line.projected)
    maximum = f", max {_qty(line.max_qty)} - {projected}" if line.max_qty else ""
    return Text.assemble(
        (line.sku, "bold"), f" lead {line.lead_time_days} d, demand {_qty(line.daily_demand)}/day, {run_out},"
        f" on order {_qty(line.on_order)}, value {format_money(row.value)}: {line.name}\n",
        (f"{_qty(line.qty)} {line.uom}", "bold"),
        f" = max(order qty {_qty(line.reorder_qty)}{maximum}, point {_qty(line.reorder_point)} - {projected}),"
        f" >= MOQ {_qty(line.min_order_qty)}, packs of {_qty(line.pack_qty)}{chosen}",
    )


class SuggestedOrdersScreen(StationScreen):
    """Review the suggested POs by supplier, change quantities, create the drafts with one key."""

    TITLE = "Suggested POs"
    CSS_PATH = CSS
    FOCUS_AFTER_ASKING = "#suggestion-list"
    HELP = ("The POs replenishment suggests, one per preferred supplier, earliest order-by date first: quantity = "
            "max(reorder qty, maximum - projected, reorder point - projected), at least the supplier's minimum, in "
            "whole packs. q changes the quantity of the line under the cursor (0 leaves it out); c creates the draft "
            "POs (press c twice) and shows their numbers; running it again creates nothing an open PO covers. "
            "a switches between the open alerts and every product below its reorder point. Enter opens the product.")
    BINDINGS = [
        Binding("q", "quantity", "Quantity", id="suggested.qty"),
        Binding("c", "create", "Create POs", id="suggested.create"),
        Binding("a", "toggle_scope", "Alerts/all", id="suggested.scope"),
        Binding("escape", "escape", "Back", id="suggested.back"),
    ]
    REQUIRES = {"quantity": Permission.REPLENISH, "create": Permission.REPLENISH}
    DEFAULT_CSS = """
    SuggestedOrdersScreen #suggestion-columns { height: 1; }
    SuggestedOrdersScreen #suggestion-list { scrollbar-gutter: stable; overflow-x: hidden; }
    SuggestedOrdersScreen #suggestion-detail { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.only_alerts = True
        self.groups: list[SupplierSuggestion] = []
        self.quantities: dict[str, Decimal] = {}
        """The manager's quantities by SKU (where they differ from the suggestion)."""
        self.created: list[CreatedOrder] = []
        self.mode: str | None = None
        self._placed = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="suggestion-scope", classes="status-line")
        yield Static("", id="suggestion-columns")
        yield PagedList(render_suggestion, empty_text="nothing to order: open POs cover every alert",
                        id="suggestion-list")
        yield Static("", id="suggestion-detail")
        yield from self.compose_prompt()

    @property
    def suggestions(self) -> PagedList[SupplierRow | LineRow]:
        return self.query_one("#suggestion-list", PagedList)

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.suggestions.focus()
        self.watch(self.suggestions, "cursor", lambda _: self._show_detail(), init=False)
        self.load()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_columns)

    def _show_columns(self) -> None:
        """The column heads, at the width the rows are drawn in (the list's, less its scrollbar)."""
        self.query_one("#suggestion-columns", Static).update(
            suggestion_header(self.suggestions.scrollable_content_region.width))

    def load(self) -> None:
        """Ask for the suggestions again; the rows are made from them with the chosen quantities."""
        self.call(replenishment.suggest, self.app.store, self.app.actor, only_alerts=self.only_alerts,
                  then=self._arrived, group="suggestions", exclusive=True)

    def _arrived(self, groups: list[SupplierSuggestion]) -> None:
        self.groups = groups
        suggested = {line.sku for group in groups for line in group.lines}
        self.quantities = {sku: qty for sku, qty in self.quantities.items() if sku in suggested}
        self._show_rows()

    def _rows(self) -> list[SupplierRow | LineRow]:
        rows: list[SupplierRow | LineRow] = []
        for group in self.groups:
            lines = [LineRow(line, self.quantities.get(line.sku, line.qty)) for line in group.lines]
            rows.append(SupplierRow(group.supplier, sum(1 for ln in lines if ln.qty), sum((ln.value for ln in lines), Decimal(0)),
                                    group.order_by))
            rows.extend(lines)
        return rows

    def _show_rows(self) -> None:
        """Show the rows made from the latest suggestions and quantities, keeping the cursor's place
        (the list holds them all: they are the few products in alert, already in memory)."""
        if self.suggestions.generation == 0:
            self.suggestions.load(lambda _cursor: (self._rows(), None))
        else:
            self.suggestions.reload()

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        if event.error:
            self.say(event.error, error=True)
        if not self._placed and event.count > 1:
            self._placed = True
            self.suggestions.cursor = 1  # the first product line, under its supplier's heading
        self.on_resize()
        self._show_scope()
        self._show_detail()

    def _orderable(self) -> tuple[int, int]:
        """(POs, lines) that ``c`` would create now: suppliers with at least one line to order."""
        counts = [sum(1 for line in group.lines if self.quantities.get(line.sku, line.qty))
                  for group in self.groups if group.supplier is not None]
        return sum(1 for n in counts if n), sum(counts)

    def _show_scope(self) -> None:
        scope = "open alerts" if self.only_alerts else "every product below its reorder point"
        pos, lines = self._orderable()
        text = f"For {scope}: {pos} PO{'' if pos == 1 else 's'}, {lines} line{'' if lines == 1 else 's'} to create"
        if self.created:
            text = f"Created {', '.join(order.number for order in self.created)} (drafts, F7). " + text
        self.query_one("#suggestion-scope", Static).update(text)

    def _show_detail(self) -> None:
        self.query_one("#suggestion-detail", Static).update(suggestion_detail(self.suggestions.highlighted))

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        if isinstance(event.row, LineRow):
            from ims_tui.screens.product import ProductScreen

            self.app.push_screen(ProductScreen(event.row.line.sku))

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches(*LIVE_TOPICS):
            self.load()

    def on_screen_resume(self) -> None:
        self.load()

    # -- changing a quantity, creating the POs ----------------------------------------------------

    def action_quantity(self) -> None:
        self.disarm()
        row = self.suggestions.highlighted
        if not isinstance(row, LineRow):
            self.say("move to a product line to change its quantity", error=True)
            return
        self._ask(f"qty:{row.line.sku}", f"Quantity of {row.line.sku} to order ({row.line.uom}; 0 leaves it out), Enter",
                  _qty(row.qty))

    def _line(self, sku: str) -> SuggestionLine | None:
        return next((line for group in self.groups for line in group.lines if line.sku == sku), None)

    def _set_quantity(self, sku: str, text: str) -> None:
        """Refuse a bad quantity here, with one line: not a number, negative, a fraction of a whole
        unit, below the supplier's minimum or not whole packs."""
        line = self._line(sku)
        if line is None:
            self.say(f"{sku} is no longer suggested", error=True)
            return
        try:
            qty = parse_quantity(text, what=f"quantity of {sku}")
        except BadInput as exc:
            self.say(str(exc), error=True)
            return
        problem = None
        if qty < 0:
            problem = f"quantity of {sku} cannot be negative ({_qty(qty)}); 0 leaves it out"
        elif qty and (refusal := whole_unit_refusal(sku, line.uom, qty)):
            problem = refusal
        elif qty and line.min_order_qty and qty < line.min_order_qty:
            problem = f"{sku}: {_qty(qty)} is below the supplier's minimum order of {_qty(line.min_order_qty)}"
        elif qty and line.pack_qty > 0 and qty % line.pack_qty:
            problem = f"{sku} comes in packs of {_qty(line.pack_qty)}: {_qty(qty)} is not whole packs"
        if problem:
            self.say(problem, error=True)
            return
        if qty == line.qty:
            self.quantities.pop(sku, None)
        else:
            self.quantities[sku] = qty
        self._show_rows()
        self.say(f"{sku}: {'left out' if qty == 0 else f'order {_qty(qty)} {line.uom}'}")

    def action_create(self) -> None:
        pos, lines = self._orderable()
        if not pos:
            self.disarm()
            self.say("nothing to order here: no line with a preferred supplier and a quantity", error=True)
            return
        if not self.confirm_twice("create", f"press c again to create {pos} draft PO{'' if pos == 1 else 's'} "
                                            f"({lines} line{'' if lines == 1 else 's'})"):
            return
        quantities = {sku: _qty(qty) for sku, qty in self.quantities.items()}
        self.call(replenishment.create_orders, self.app.store, self.app.actor, quantities,
                  only_alerts=self.only_alerts, then=self._created, failed=self._not_created)

    def _not_created(self, error: ImsError) -> None:
        """Nothing was created (all or nothing): say why and show what is suggested now."""
        self.say(str(error), error=True)
        self.load()

    def _created(self, created: list[CreatedOrder]) -> None:
        self.created = created
        self.quantities = {}
        if created:
            self.say("created " + ", ".join(f"{order.number} ({_cut(order.supplier, 18)}, {len(order.lines)} lines)"
                                            for order in created))
        else:
            self.say("nothing created: open POs already cover these products")
        self.load()

    def action_toggle_scope(self) -> None:
        self.disarm()
        self.only_alerts = not self.only_alerts
        self.created = []
        self.load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode or "", event.value.strip()
        self._done_asking()
        if mode.startswith("qty:") and text:
            self._set_quantity(mode.removeprefix("qty:"), text)


register_task(Task("replenish", "Replenish", "f8", Permission.REPLENISH, ReplenishScreen,
                   "reorder alerts and suggested POs"))
