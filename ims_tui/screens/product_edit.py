"""Managers' forms: a product's fields, its barcodes (check digits verified), its supplier items,
its reorder settings per warehouse (with the reorder point suggested from demand).

Each form is a dialog: Enter moves to the next field and saves from the last one, ctrl+s saves,
Escape cancels.  Saving runs in a thread worker; a refusal is shown on the form's error line
with the bell, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from ims_tui.services.inventory import ProductDetail, product_detail, qty
from ims_tui.services.permissions import Permission, allows
from ims_tui.services.replenishment import (
    ReorderPointSuggestion,
    ReorderSettingsView,
    apply_reorder_points,
    reorder_points,
    set_reorder_settings,
)
from ims_tui.services.products import (
    add_barcode,
    create_product,
    list_suppliers,
    remove_barcode,
    set_supplier_item,
    update_product,
)
from ims_tui.widgets.calls import ServiceCalls
from ims_tui.widgets.scan import Scanned

FORM_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 76; height: auto; max-height: 22;
    border: round $primary; background: $surface; padding: 0 1;
}}
{cls} .field {{ height: 1; margin-bottom: 0; }}
{cls} .field Label {{ width: 18; }}
{cls} .field Input, {cls} .field Select {{ width: 1fr; }}
{cls} .error-line {{ height: auto; }}
{cls} .hint {{ color: $text-muted; height: auto; }}
"""


class _Form(ServiceCalls, ModalScreen):
    """Shared behaviour: field rows, Enter to advance, ctrl+s to save, an error line."""

    SCAN_STEPS = False
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def field_row(self, label: str, widget) -> Horizontal:
        return Horizontal(Label(label), widget, classes="field")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = [w for w in self.query("Input, Select") if not w.disabled]
        if inputs and event.input is inputs[-1]:
            self.action_save()
        else:
            self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        self.query_one(".error-line", Static).update(Text(message))
        self.app.bell()

    def run_saving(self, work_fn: Callable[[], object], done: Callable[[object], None]) -> None:
        self.query_one(".error-line", Static).update("saving...")
        self.call(work_fn, then=done, failed=lambda error: self.show_error(str(error)), group="form-save", exclusive=True)


class ProductFormScreen(_Form):
    """Create a product (``detail`` None) or edit one; dismissed with the SKU when saved."""

    DEFAULT_CSS = FORM_CSS.format(cls="ProductFormScreen")
    FIELDS = (
        ("name", "Name"), ("description", "Description"), ("category", "Category"), ("uom", "Unit"),
        ("unit_price", "Price"), ("standard_cost", "Standard cost"), ("reorder_point", "Reorder point"),
        ("reorder_qty", "Reorder qty"), ("default_location", "Default location"),
    )

    def __init__(self, detail: ProductDetail | None, *, sku_hint: str = "") -> None:
        super().__init__()
        self.detail = detail
        self.sku_hint = sku_hint

    def _value(self, name: str) -> str:
        d = self.detail
        if d is None:
            return "ea" if name == "uom" else ""
        value = getattr(d, name)
        if value is None:
            return ""
        return qty(value) if hasattr(value, "normalize") else str(value)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Edit {self.detail.sku}" if self.detail else "New product"
            box.border_subtitle = "Enter next · ctrl+s save · Esc cancel"
            if self.detail is None:
                yield self.field_row("SKU", Input(self.sku_hint, id="sku", compact=True))
            for name, label in self.FIELDS:
                yield self.field_row(label, Input(self._value(name), id=name, compact=True))
            tracking = self.detail.tracking if self.detail else "none"
            yield self.field_row("Tracking", Select([(t, t) for t in ("none", "lot", "serial")], value=tracking,
                                                    allow_blank=False, id="tracking", compact=True))
            active = self.detail.active if self.detail else True
            yield self.field_row("Status", Select([("active", True), ("inactive", False)], value=active,
                                                  allow_blank=False, id="active", compact=True))
            yield Static("", classes="error-line")

    def fields(self) -> dict[str, object]:
        values: dict[str, object] = {name: self.query_one(f"#{name}", Input).value for name, _ in self.FIELDS}
        values["tracking"] = self.query_one("#tracking", Select).value
        values["active"] = self.query_one("#active", Select).value
        return values

    def action_save(self) -> None:
        store, actor, fields = self.app.store, self.app.actor, self.fields()
        if self.detail is None:
            sku = self.query_one("#sku", Input).value.strip()
            self.run_saving(lambda: create_product(store, actor, sku, fields), self.dismiss)
        else:
            sku = self.detail.sku
            self.run_saving(lambda: update_product(store, actor, sku, fields), lambda _: self.dismiss(sku))


class BarcodesScreen(_Form):
    """A product's barcodes: add one (type or scan it), Delete removes the highlighted one."""

    SCAN_STEPS = True
    DEFAULT_CSS = FORM_CSS.format(cls="BarcodesScreen") + "BarcodesScreen #codes { height: 8; }"
    BINDINGS = [Binding("delete", "remove", "Remove barcode", id="barcodes.remove")]

    def __init__(self, detail: ProductDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Barcodes of {self.detail.sku}"
            box.border_subtitle = "Enter/ctrl+s add · Del remove · Esc close"
            yield OptionList(id="codes")
            yield self.field_row("New barcode", Input(id="code", placeholder="type or scan", compact=True))
            yield self.field_row("Units per scan", Input("1", id="pack", compact=True))
            yield Static("EAN/UPC/GTIN codes must carry a valid check digit.", classes="hint")
            yield Static("", classes="error-line")

    def on_mount(self) -> None:
        self._show_codes(self.detail)
        self.query_one("#code", Input).focus()

    def _show_codes(self, detail: ProductDetail) -> None:
        self.detail = detail
        codes = self.query_one("#codes", OptionList)
        codes.clear_options()
        codes.add_options(
            Option(code + (f"  x{qty(pack)}" if pack != 1 else ""), id=code) for code, pack in detail.barcodes
        )

    def on_scanned(self, message: Scanned) -> None:
        self.query_one("#code", Input).value = message.text.strip()
        self.query_one("#pack", Input).focus()

    def _refreshed(self, _result: object = None) -> None:
        self.query_one(".error-line", Static).update("")
        self.query_one("#code", Input).value = ""
        self.query_one("#pack", Input).value = "1"
        self.query_one("#code", Input).focus()

    def action_save(self) -> None:
        store, actor, sku = self.app.store, self.app.actor, self.detail.sku
        code, pack = self.query_one("#code", Input).value, self.query_one("#pack", Input).value

        def work_fn():
            add_barcode(store, actor, sku, code, pack)
            return product_detail(store, actor, sku, movements=0)

        self.run_saving(work_fn, lambda detail: (self._show_codes(detail), self._refreshed()))

    def action_remove(self) -> None:
        codes = self.query_one("#codes", OptionList)
        if codes.highlighted is None:
            self.show_error("highlight a barcode in the list first")
            return
        code = codes.get_option_at_index(codes.highlighted).id
        store, actor, sku = self.app.store, self.app.actor, self.detail.sku

        def work_fn():
            remove_barcode(store, actor, sku, code)
            return product_detail(store, actor, sku, movements=0)

        self.run_saving(work_fn, lambda detail: (self._show_codes(detail), self._refreshed()))


class SupplierItemScreen(_Form):
    """How a supplier sells this product: their SKU, cost, lead time, minimum order, pack multiple."""

    DEFAULT_CSS = FORM_CSS.format(cls="SupplierItemScreen")

    def __init__(self, detail: ProductDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        first = self.detail.supplier_items[0] if self.detail.supplier_items else {}
        with Vertical() as box:
            box.border_title = f"Supplier item of {self.detail.sku}"
            box.border_subtitle = "Enter next · ctrl+s save · Esc cancel"
            yield self.field_row("Supplier", Input(first.get("supplier", ""), id="supplier", placeholder="code or name", compact=True))
            yield self.field_row("Supplier SKU", Input(first.get("supplier_sku", ""), id="supplier_sku", compact=True))
            yield self.field_row("Cost", Input(qty(first["cost"]) if first else "", id="cost", compact=True))
            lead = first.get("lead_time_days")
            yield self.field_row("Lead time (days)", Input("" if lead is None else str(lead), id="lead", compact=True))
            yield self.field_row("Minimum order", Input(qty(first["min_order_qty"]) if first else "", id="moq", compact=True))
            yield self.field_row("Pack multiple", Input(qty(first["pack_qty"]) if first else "1", id="pack", compact=True))
            yield Static("", id="supplier-hint", classes="hint")
            yield Static("", classes="error-line")

    def on_mount(self) -> None:
        self._load_suppliers()

    def _load_suppliers(self) -> None:
        self.call(list_suppliers, self.app.store, self.app.actor, then=self._show_suppliers, failed=lambda _: None)

    def _show_suppliers(self, suppliers) -> None:
        names = ", ".join(s.code for s in suppliers[:12]) + (" ..." if len(suppliers) > 12 else "")
        self.query_one("#supplier-hint", Static).update(Text(f"Suppliers: {names or 'none yet'}"))

    def action_save(self) -> None:
        store, actor, sku = self.app.store, self.app.actor, self.detail.sku
        values = {name: self.query_one(f"#{name}", Input).value
                  for name in ("supplier", "supplier_sku", "cost", "lead", "moq", "pack")}
        self.run_saving(
            lambda: set_supplier_item(store, actor, sku, values["supplier"], values["supplier_sku"],
                                      values["cost"], values["lead"], values["moq"], values["pack"]),
            lambda _: self.dismiss(True),
        )


def render_suggestion(suggestion: ReorderPointSuggestion) -> str:
    """A reorder point from demand with its inputs, in two lines of the form."""
    return (f"{suggestion.warehouse}: suggested point {qty(suggestion.suggested)} (now {qty(suggestion.current)}),"
            f" safety {qty(suggestion.safety_stock)}\n"
            f"  d {qty(suggestion.daily_demand)}/day, sd {qty(suggestion.deviation)}, {suggestion.days} days in stock"
            f" ({suggestion.stockout_days} out), lead {suggestion.lead_time_days} d, z {qty(suggestion.z)}"
            f" ({qty(suggestion.service_level)}%)")


class ReorderSettingsScreen(_Form):
    """A product's reorder settings in one warehouse (its home warehouse first); dismissed with
    True when saved or when a suggested reorder point was applied."""

    DEFAULT_CSS = FORM_CSS.format(cls="ReorderSettingsScreen") + """
    ReorderSettingsScreen #rop-suggestion { height: auto; max-height: 6; }
    """
    BINDINGS = [Binding("ctrl+r", "apply_suggestion", "Apply suggested point", id="reorder.apply")]
    FIELDS = (
        ("reorder_point", "Reorder point"), ("reorder_qty", "Reorder qty"), ("max_qty", "Maximum (0 none)"),
        ("safety_stock", "Safety stock"),
    )

    def __init__(self, detail: ProductDetail, views: list[ReorderSettingsView]) -> None:
        super().__init__()
        self.detail = detail
        self.views = {view.warehouse.upper(): view for view in views}
        self.suggestions: list[ReorderPointSuggestion] = []

    def compose(self) -> ComposeResult:
        first = next(iter(self.views.values()), None)
        with Vertical() as box:
            box.border_title = f"Reorder settings of {self.detail.sku}"
            box.border_subtitle = "Enter next · ctrl+s save · Esc cancel"
            yield self.field_row("Warehouse", Input(first.warehouse if first else "", id="warehouse",
                                                    placeholder="code (empty: home warehouse)", compact=True))
            for name, label in self.FIELDS:
                yield self.field_row(label, Input(qty(getattr(first, name)) if first else "", id=name, compact=True))
            supplier = (first.supplier or "") if first else next(
                (item["supplier"] for item in self.detail.supplier_items), "")
            yield self.field_row("Supplier", Input(supplier, id="supplier",
                                                             placeholder="code or name (empty: none)", compact=True))
            offered = "; ".join(f"{item['supplier']}" for item in self.detail.supplier_items) or "none yet (u adds one)"
            places = ", ".join(view.warehouse for view in self.views.values()) or "none yet"
            yield Static(Text(f"Preferred supplier, one of: {offered}. Warehouses with settings: {places}."),
                         classes="hint")
            yield Static("", id="rop-suggestion", classes="hint")
            yield Static("", classes="error-line")

    def on_mount(self) -> None:
        actor = self.app.actor
        if actor is not None and allows(actor.role, Permission.REPLENISH):
            self.call(reorder_points, self.app.store, actor, skus=[self.detail.sku],
                      then=self._show_suggestions, failed=lambda error: self.show_error(str(error)))

    def _show_suggestions(self, suggestions: list[ReorderPointSuggestion]) -> None:
        self.suggestions = suggestions
        if suggestions:
            text = "From demand: " + "\n".join(render_suggestion(s) for s in suggestions)
            if self.may_apply():
                self.query_one(Vertical).border_subtitle = "ctrl+s save · ctrl+r apply suggested · Esc cancel"
        else:
            text = "From demand: no suggestion until the settings are saved"
        self.query_one("#rop-suggestion", Static).update(Text(text))
        self.refresh_bindings()

    def may_apply(self) -> bool:
        actor = self.app.actor
        return bool(self.suggestions) and actor is not None and allows(actor.role, Permission.REPLENISH)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_suggestion":
            return self.may_apply()
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typing another warehouse's code shows that warehouse's settings."""
        view = self.views.get(event.value.strip().upper()) if event.input.id == "warehouse" else None
        if view is not None:
            for name, _ in self.FIELDS:
                self.query_one(f"#{name}", Input).value = qty(getattr(view, name))
            self.query_one("#supplier", Input).value = view.supplier or ""

    def action_save(self) -> None:
        store, actor, sku = self.app.store, self.app.actor, self.detail.sku
        values = {name: self.query_one(f"#{name}", Input).value for name, _ in self.FIELDS}
        warehouse = self.query_one("#warehouse", Input).value.strip() or None
        supplier = self.query_one("#supplier", Input).value.strip()
        self.run_saving(lambda: set_reorder_settings(store, actor, sku, warehouse=warehouse, supplier=supplier, **values),
                        lambda _view: self.dismiss(True))

    def action_apply_suggestion(self) -> None:
        store, actor, sku = self.app.store, self.app.actor, self.detail.sku
        self.run_saving(lambda: apply_reorder_points(store, actor, [sku]), lambda _applied: self.dismiss(True))
