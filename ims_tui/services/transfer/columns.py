"""The columns of each import/export kind (the table in CLI.md) and matching a file's headers to them.

Headers match case-insensitively and ignore spacing and punctuation (``Unit Price`` is
``unit_price``); well-known names from other systems are read as synonyms (``EAN`` ->
``barcodes``) and reported as such; ``--map SRC=DEST`` overrides both.  The two columns an error
report adds (``import_row``, ``import_errors``) are ignored, so a corrected error report imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ims_tui.services.errors import BadInput

KINDS = ("products", "suppliers", "customers", "locations", "stock")
EXPORT_KINDS = ("products", "suppliers", "customers", "locations", "stock", "moves", "audit")
ERROR_COLUMNS = ("import_row", "import_errors")
LIST_SEPARATOR = "|"
PACK_SEPARATOR = "*"


@dataclass(frozen=True)
class Column:
    """One column of a kind: its value type and the longest text the store keeps."""

    name: str
    type: str = "text"  # text | money | qty | int | date | bool | choice | list
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindSpec:
    kind: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


SPECS: dict[str, KindSpec] = {
    "products": KindSpec("products", (
        Column("sku", required=True, max_length=60,
               synonyms=("item", "item_code", "item_no", "item_number", "article", "article_number", "product_code", "part_number", "code")),
        Column("name", required=True, max_length=300, synonyms=("product_name", "item_name", "title", "product")),
        Column("description", synonyms=("long_description", "details", "notes")),
        Column("category", max_length=120, synonyms=("group", "product_group", "family", "department")),
        Column("uom", max_length=20, synonyms=("unit", "unit_of_measure", "units", "measure")),
        Column("barcodes", "list", synonyms=("barcode", "ean", "ean13", "upc", "gtin", "gtins", "eans")),
        Column("unit_price", "money", synonyms=("price", "sale_price", "sales_price", "retail_price", "sell_price")),
        Column("unit_cost", "money", synonyms=("cost", "cost_price", "standard_cost", "purchase_price", "buy_price")),
        Column("supplier", "list", synonyms=("vendor", "supplier_name", "vendor_name", "suppliers")),
        Column("supplier_sku", "list", synonyms=("vendor_sku", "supplier_code", "vendor_code", "supplier_item", "supplier_part_number")),
        Column("supplier_cost", "list", synonyms=("vendor_cost", "supplier_price")),
        Column("reorder_point", "qty", synonyms=("min", "min_qty", "minimum", "minimum_stock", "reorder_level")),
        Column("reorder_qty", "qty", synonyms=("reorder_quantity", "order_qty", "order_quantity", "max_order")),
        Column("max_qty", "qty", synonyms=("max", "maximum", "max_stock", "maximum_stock", "order_up_to")),
        Column("safety_stock", "qty", synonyms=("safety", "buffer_stock")),
        Column("tracking", "choice", choices=("none", "lot", "serial"), synonyms=("tracked", "tracking_type")),
        Column("default_location", max_length=60, synonyms=("location", "bin", "default_bin", "home_location")),
        Column("active", "bool", synonyms=("enabled", "is_active")),
    )),
    "suppliers": KindSpec("suppliers", (
        Column("name", required=True, max_length=200, synonyms=("supplier", "supplier_name", "vendor", "vendor_name", "company")),
        Column("code", max_length=40, synonyms=("supplier_code", "vendor_code", "id")),
        Column("email", max_length=200, synonyms=("e_mail", "mail", "email_address")),
        Column("phone", max_length=60, synonyms=("telephone", "tel", "phone_number")),
        Column("lead_time_days", "int", synonyms=("lead_time", "lead_days", "lead_time_d", "delivery_days")),
        Column("active", "bool", synonyms=("enabled", "is_active")),
    )),
    "customers": KindSpec("customers", (
        Column("name", required=True, max_length=200, synonyms=("customer", "customer_name", "company", "account_name")),
        Column("code", max_length=40, synonyms=("customer_code", "account", "account_code", "customer_no", "id")),
        Column("email", max_length=200, synonyms=("e_mail", "mail", "email_address")),
        Column("phone", max_length=60, synonyms=("telephone", "tel", "phone_number")),
        Column("min_shelf_days", "int", synonyms=("min_shelf_life", "minimum_shelf_life", "shelf_life_days", "min_days_to_expiry")),
        Column("active", "bool", synonyms=("enabled", "is_active")),
    )),
    "locations": KindSpec("locations", (
        Column("code", required=True, max_length=60, synonyms=("location", "location_code", "bin", "bin_code")),
        Column("name", max_length=200, synonyms=("location_name", "description")),
        Column("parent", max_length=60, synonyms=("parent_location", "parent_code", "area", "zone")),
        Column("warehouse", max_length=20, synonyms=("site", "warehouse_code", "depot")),
        Column("barcode", max_length=80, synonyms=("location_barcode", "label")),
        Column("kind", "choice", choices=("internal", "view"), synonyms=("type", "location_type")),
        Column("active", "bool", synonyms=("enabled", "is_active")),
        Column("pick_seq", "int", synonyms=("pick_sequence", "walk_sequence", "sequence", "pick_order")),
        Column("usage", "choice", choices=("stock", "packing", "quarantine"), synonyms=("location_usage", "purpose")),
    )),
    "stock": KindSpec("stock", (
        Column("sku", required=True, max_length=60, synonyms=("item", "item_code", "product_code", "article", "product", "code")),
        Column("location", required=True, max_length=60, synonyms=("bin", "location_code", "loc", "bin_code")),
        Column("qty", "qty", required=True, synonyms=("quantity", "on_hand", "qty_on_hand", "stock", "count", "amount")),
        Column("lot", max_length=80, synonyms=("batch", "lot_number", "batch_number", "lot_code")),
        Column("expiry", "date", synonyms=("expiry_date", "expiration", "expiration_date", "best_before", "use_by", "exp", "bbd")),
        Column("serial", "list", synonyms=("serials", "serial_number", "serial_no", "sn")),
        Column("unit_cost", "money", synonyms=("cost", "cost_price", "unit_value", "value_per_unit")),
    )),
}


def spec(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise BadInput(f"cannot import {kind!r}: choose one of {', '.join(KINDS)}") from None


def normalise_header(text: str) -> str:
    """``' Unit Price (EUR) '`` -> ``unit_price_eur``: case, spacing and punctuation do not matter."""
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


@dataclass(frozen=True)
class ColumnMatch:
    """How one header of the file is read."""

    index: int
    header: str
    column: str | None  # None: ignored
    how: str  # exact | synonym | mapped | ignored | unknown | error_report | duplicate


@dataclass(frozen=True)
class HeaderMapping:
    matches: tuple[ColumnMatch, ...]
    missing: tuple[str, ...] = ()

    @property
    def used(self) -> dict[str, int]:
        """Destination column -> cell index."""
        return {m.column: m.index for m in self.matches if m.column is not None}

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(m.header for m in self.matches if m.how == "unknown")

    @property
    def duplicates(self) -> tuple[str, ...]:
        return tuple(m.header for m in self.matches if m.how == "duplicate")

    @property
    def synonyms(self) -> dict[str, str]:
        return {m.header: m.column for m in self.matches if m.how == "synonym" and m.column}

    def describe(self) -> list[str]:
        """One line per header, for the CLI and the preview."""
        lines = []
        for m in self.matches:
            shown = m.header or f"(column {m.index + 1})"
            if m.column:
                lines.append(f"{shown} -> {m.column}" + ("" if m.how == "exact" else f" ({m.how})"))
            else:
                lines.append(f"{shown}: {m.how}, ignored")
        return lines


def parse_map_options(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["EAN Code=barcodes", "Notes="]`` -> ``{"ean_code": "barcodes", "notes": ""}`` (empty: ignore)."""
    mapping: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise BadInput(f"--map needs SRC=DEST, not {item!r}")
        source, destination = item.split("=", 1)
        if not source.strip():
            raise BadInput(f"--map needs a source column name: {item!r}")
        mapping[normalise_header(source)] = destination.strip().lower()
    return mapping


def match_headers(kind: str, headers: list[str], mapping: dict[str, str] | None = None) -> HeaderMapping:
    """Read ``headers`` as ``kind``'s columns; ``mapping`` (normalised source -> column or '') wins.

    Raises BadInput for a mapping that names a column the file does not have or the kind does
    not know, or maps two headers to one column.
    """
    kind_spec = spec(kind)
    mapping = dict(mapping or {})
    known = set(kind_spec.names)
    for source, destination in mapping.items():
        if destination and destination not in known:
            raise BadInput(f"--map {source}={destination}: {kind} have no column {destination!r} (columns: {', '.join(kind_spec.names)})")
    normalised = [normalise_header(h) for h in headers]
    for source in mapping:
        if source not in normalised:
            raise BadInput(f"--map {source}=...: the file has no column {source!r} (columns: {', '.join(h for h in headers if h)})")
    targets = [d for d in mapping.values() if d]
    for destination in set(targets):
        if targets.count(destination) > 1:
            raise BadInput(f"--map sends two columns to {destination!r}")
    synonyms = {syn: column.name for column in kind_spec.columns for syn in column.synonyms}
    taken: set[str] = set(targets)
    matches: list[ColumnMatch] = []
    # Exact names first, so a file with both "code" and "sku" reads "sku" as sku, not "code".
    decided: dict[int, ColumnMatch] = {}
    for index, name in enumerate(normalised):
        if name in mapping:
            destination = mapping[name]
            decided[index] = ColumnMatch(index, headers[index], destination or None, "mapped" if destination else "ignored")
        elif name in ERROR_COLUMNS:
            decided[index] = ColumnMatch(index, headers[index], None, "error_report")
        elif name in known:
            how = "duplicate" if name in taken else "exact"
            decided[index] = ColumnMatch(index, headers[index], None if how == "duplicate" else name, how)
            taken.add(name)
    for index, name in enumerate(normalised):
        if index in decided:
            continue
        column = synonyms.get(name)
        if column is not None and column not in taken:
            decided[index] = ColumnMatch(index, headers[index], column, "synonym")
            taken.add(column)
        else:
            decided[index] = ColumnMatch(index, headers[index], None, "unknown")
    matches = [decided[index] for index in range(len(headers))]
    missing = tuple(name for name in kind_spec.required if name not in taken)
    return HeaderMapping(tuple(matches), missing)
