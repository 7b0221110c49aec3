"""Per-kind checks and bulk writes.

An importer screens each batch of rows once, in the checking pass (the file alone, earlier rows
and the store's small tables), and checks it against the rest of the store with a few set-based
queries per batch (``= ANY(array)`` on PostgreSQL, ``json_each`` on SQLite: one parameter each).
The writing pass (the one write transaction) checks each batch against the store again, as it
is now, and writes it in bulk (``COPY`` on PostgreSQL, one prepared ``executemany`` on SQLite),
not one ORM object per row.  Catalogue rules are the catalogue service's (barcode check digits
via ``validate_barcode``, no tracking change while a product has stock); the audit trail gets
one row per import with the counts, not one per row.  Opening stock is posted through the
ledger, one posting per row (each row's idempotency key is its content).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.direct import list_parameter, one_of
from ims_tui.db.models import (
    Balance,
    Barcode,
    Customer,
    Location,
    Lot,
    Posting,
    Product,
    ReorderSetting,
    SerialNumber,
    Supplier,
    SupplierItem,
    Warehouse,
)
from ims_tui.services import alerts, ledger
from ims_tui.services.alerts import home_warehouse
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import gtin_variants, validate_barcode
from ims_tui.services.errors import BadInput, ImsError
from ims_tui.services.ledger import StockMove
from ims_tui.services.transfer.columns import PACK_SEPARATOR
from ims_tui.services.transfer.reading import ValueProblem
from ims_tui.services.transfer.report import Problem
from ims_tui.services.transfer.rows import ParsedRow, RowParser
from ims_tui.services.transfer.seen import SeenKeys
from ims_tui.values import ADJUSTMENT

STOCK_LOCATION_KINDS = ("internal",)
WHOLE_UNITS = ("ea", "pcs", "unit")
OPENING_STOCK_REASON = "opening stock import"
POSTING_KIND = "adjust"
"""The kind of an opening-stock row's posting."""
ZERO = Decimal(0)
ONE = Decimal(1)
"""Shared by every row that takes them: the checked batches keep one copy, a bulk insert converts it once."""


class ContextChanged(Exception):
    """Between the check and the write, the store's tables the file was screened against changed
    (a supplier or location added, renamed ...): check the file again."""


class WriteAborted(Exception):
    """The writing pass met a problem (the store changed since the check); roll everything back."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].describe() if problems else "import aborted")
        self.problems = problems


def _in_chunks(values: list, size: int = 900) -> list[list]:
    """Split IN lists below SQLite's bound-parameter limits."""
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def _lower_map(pairs: list[tuple[str | None, Any]]) -> dict[str, Any]:
    return {key.lower(): value for key, value in pairs if key}


@dataclass(frozen=True)
class _LocationInfo:
    id: int
    code: str
    kind: str
    active: bool


def _load_locations(session: Session) -> dict[str, _LocationInfo]:
    """Every location by code and by barcode (locations are few; products may be many)."""
    found: dict[str, _LocationInfo] = {}
    for id_, code, barcode, kind, active in session.execute(
        select(Location.id, Location.code, Location.barcode, Location.kind, Location.active)
    ):
        info = _LocationInfo(id_, code, kind, active)
        found[code] = info
        if barcode:
            found.setdefault(barcode, info)
    return found


class Importer:
    """Base: the store's small tables the checks read (the *context*), state that spans batches
    (duplicates within the file), and the writes.

    Checking a batch is two steps: :meth:`screen` (what the file says, against earlier rows and
    the context; run once, outside any write transaction) and :meth:`check` (against the rest of
    the store, set-based: a few queries per batch).  The writing pass runs :meth:`check` again in
    the write transaction, on the screened rows, after :meth:`rebind` has found the context
    unchanged; so the write transaction holds the lock for set-based queries and bulk writes only.
    """

    kind = ""

    def __init__(self, session: Session, actor: Actor, parser: RowParser, source_name: str, file_hash: str) -> None:
        self.session = session
        self.actor = actor
        self.parser = parser
        self.present = frozenset(parser.used)
        self.source_name = source_name
        self.file_hash = file_hash
        self.dialect = session.get_bind().dialect.name
        self.postgres = self.dialect == "postgresql"
        self.writing = False  # True in the writing pass (after rebind): the checks also plan the writes
        self._statements: dict[Any, Any] = {}  # read_in's, by call site
        self.context = self.load()

    def load(self) -> Any:
        """Read the context into attributes; return it in a form that compares equal while unchanged."""
        return None

    def rebind(self, session: Session) -> None:
        """Use ``session`` (the write transaction) from now on; :class:`ContextChanged` when the
        context is no longer what the rows were screened against."""
        self.session = session
        self.writing = True
        screened, self.context = self.context, self.load()
        if self.context != screened:
            raise ContextChanged()

    def where_in(self, column: Any, values: list) -> list[Any]:
        """A WHERE clause selecting ``column IN values`` with one parameter however many values:
        ``= ANY(array)`` on PostgreSQL, ``IN (SELECT value FROM json_each(...))`` on SQLite (no
        statement of a thousand parameters to build and parse for each batch)."""
        return [one_of(self.dialect, column, values)] if values else []

    def read_in(self, column: Any, values: list, build: Callable[[Any], Any]) -> list[Any]:
        """The rows of ``build(clause)``, ``clause`` selecting ``column IN values`` as
        :meth:`where_in`'s does, fetched at once.  The statement is built once per call site
        (``build``'s code) and importer and run with the values as its one parameter: a batch
        builds and keys no new statement."""
        if not values:
            return []
        statement = self._statements.get(build.__code__)
        if statement is None:
            statement = self._statements[build.__code__] = build(one_of(self.dialect, column, name="in_values"))
        return self.session.connection().execute(statement, {"in_values": list_parameter(self.dialect, values)}).all()

    def read(self, statement: Any) -> list[Any]:
        """The rows of a Core ``statement`` on the session's connection, fetched at once: none of
        the ORM's per-row result machinery (the checks read thousands of rows a batch, twice)."""
        return self.session.connection().execute(statement).all()

    def insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) in bulk on the session's connection, values
        converted by the columns' types once: ``COPY`` on PostgreSQL, one prepared ``executemany``
        on SQLite."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect
        names = list(rows[0])
        columns = []
        for name in names:  # converted a column at a time: one bind processor, no per-row dispatch
            process = table.c[name].type.bind_processor(dialect)
            column = [row[name] for row in rows]
            if process is not None:
                first = column[0]
                if all(value is first for value in column):  # one shared value (a timestamp, a default): once
                    column = [None if first is None else process(first)] * len(column)
                else:
                    column = [None if value is None else process(value) for value in column]
            columns.append(column)
        values = zip(*columns)
        cursor = self.session.connection().connection.driver_connection.cursor()
        columns = ", ".join(names)
        statement = (f"COPY {table.name} ({columns}) FROM STDIN" if self.postgres
                     else f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' * len(names))})")
        try:
            if self.postgres:
                with cursor.copy(statement) as copy:
                    for row in values:
                        copy.write_row(row)
            else:
                cursor.executemany(statement, values)
        except dialect.dbapi.IntegrityError as exc:
            raise IntegrityError(statement, None, exc) from None
        finally:
            cursor.close()

    def screen(self, batch: list[ParsedRow]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, batch: list[ParsedRow]) -> None:
        """The checks against the store beyond the context (re-run in the write transaction)."""

    def apply(self, batch: list[ParsedRow]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self) -> list[Problem]:
        """Checks that need the whole file (references to rows further down)."""
        return []

    def complete(self) -> None:
        """Writes that need the whole file (done at the end of the writing pass)."""


# --- products --------------------------------------------------------------------------------

PRODUCT_FIELDS = ("name", "description", "category", "uom", "unit_price", "standard_cost", "reorder_point",
                  "reorder_qty", "tracking", "default_location_id", "active")
PRODUCT_DEFAULTS = {"description": "", "category": "", "uom": "ea", "unit_price": ZERO,
                    "standard_cost": ZERO, "reorder_point": ZERO, "reorder_qty": ZERO,
                    "tracking": "none", "default_location_id": None, "active": True}
PLANNED_COLUMNS = ("name", "description", "category", "uom", "unit_price", "unit_cost", "reorder_point", "reorder_qty",
                   "tracking", "default_location", "active")
"""The file's columns that are product fields (the rest are barcodes, supplier items and settings)."""
_FILE_TO_FIELD = {"unit_cost": "standard_cost", "default_location": "default_location_id"}


@dataclass
class _ProductPlan:
    product_id: int | None
    fields: dict[str, Any]  # the merged field values to write (empty when nothing changed: not written)
    changed: bool
    barcodes: list[tuple[str, Decimal]] | None  # the product's barcodes after the import (None: leave)
    existing_barcodes: dict[str, tuple[int, Decimal]]  # code -> (id, pack)
    items: list[tuple[int, str, Decimal | None]] | None  # (supplier id, supplier sku, cost)
    existing_items: dict[int, tuple[int, str, Decimal]]  # supplier id -> (item id, supplier sku, cost)
    settings: tuple[Decimal | None, Decimal | None] = (None, None)  # home warehouse's max and safety stock (None: leave)


class ProductImporter(Importer):
    """Products by SKU, with their barcodes (``code`` or ``code*pack``) and supplier items.

    An empty cell leaves the stored value alone (a new product gets the default); a non-empty
    ``barcodes`` or ``supplier`` cell is the complete list for that product.
    """

    kind = "products"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen_skus = SeenKeys()  # sku -> row
        self.seen_barcodes = SeenKeys()  # barcode -> (row, sku)
        self.seen_supplier_skus = SeenKeys()  # (supplier id, supplier sku) -> (row, sku)
        self.created = 0
        self.planned_columns = [(column, _FILE_TO_FIELD.get(column, column)) for column in PLANNED_COLUMNS if column in self.present]

    def load(self) -> Any:
        suppliers = list(self.session.execute(select(Supplier.id, Supplier.name, Supplier.code)))
        # A supplier is named by its name or its code, in any case; a name wins over a code.
        self.suppliers = _lower_map([(code, id_) for id_, _, code in suppliers]) | _lower_map([(name, id_) for id_, name, _ in suppliers])
        self.locations = _load_locations(self.session)
        return self.suppliers, self.locations

    # -- checking ------------------------------------------------------------------------

    def screen(self, batch: list[ParsedRow]) -> None:
        """The row on its own and against earlier rows; fills ``row.wishes`` (None when refused)."""
        named = [row for row in batch if row.values.get("sku")]
        for row, earlier in zip(named, self.seen_skus.first_seen([(row.values["sku"], row.number) for row in named])):
            if earlier is not None:
                row.problem("sku", f"SKU {row.values['sku']} is also on row {earlier}")
        barcodes = {row.number: self._wanted_barcodes(row) for row in batch if row.values.get("barcodes")}
        pending = [(row, entry) for row in batch for entry in barcodes.get(row.number, ())]
        earlier_rows = self.seen_barcodes.first_seen([(identity, (row.number, row.values.get("sku") or ""))
                                                      for row, (_, _, _, identity) in pending])
        for (row, (code, _, text, _)), earlier in zip(pending, earlier_rows):
            if earlier is not None:
                row.problem("barcodes", f"barcode {code} is also on row {earlier[0]} ({earlier[1]})", value=text)
        for row in batch:
            if row.values.get("default_location"):
                code = row.values["default_location"]
                location = self.locations.get(code)
                if location is None:
                    row.problem("default_location", f"unknown location {code} (import locations first)")
                elif location.kind not in STOCK_LOCATION_KINDS:
                    row.problem("default_location", f"location {code} is not a stock location ({location.kind})")
        items = {row.number: self._wanted_items(row) for row in batch}
        pending_items = [(row, item) for row in batch for item in items[row.number] or () if item[1] is not None]
        earlier_rows = self.seen_supplier_skus.first_seen([((item[0], item[1]), (row.number, row.values.get("sku") or ""))
                                                           for row, item in pending_items])
        for (row, (_, supplier_sku, _, name)), earlier in zip(pending_items, earlier_rows):
            if earlier is not None:
                row.problem("supplier_sku", f"{name}'s SKU {supplier_sku} is also on row {earlier[0]} ({earlier[1]})",
                            value=supplier_sku)
        for row in batch:
            row.key = row.values.get("sku") or ""
            if row.problems:
                row.wishes = None
                continue
            row.wishes = {}
            if row.values.get("barcodes"):
                row.wishes["barcodes"] = [(code, pack) for code, pack, _, _ in barcodes[row.number]]
            if items[row.number] is not None:
                row.wishes["items"] = [(s, sku, cost) for s, sku, cost, _ in items[row.number]]

    def check(self, batch: list[ParsedRow]) -> None:
        rows = [row for row in batch if row.wishes is not None and not row.problems]
        skus = [row.values["sku"] for row in rows]
        existing = self._existing(skus)
        ids = [product["id"] for product in existing.values()]
        barcodes_by_product = self._barcodes_of(ids)
        # A batch whose rows name no supplier compares and writes no supplier items: none to read.
        items_by_product = self._items_of(ids) if any("items" in row.wishes for row in rows) else {}
        wanted_items = self._resolve_implied_skus(rows, existing, items_by_product)
        owners = self._barcode_owners([code for row in rows for code, _ in row.wishes.get("barcodes") or ()])
        item_owners = self._item_owners([(s, sku) for items in wanted_items.values() for s, sku, _ in items])
        by_sku = {row.values["sku"]: row for row in rows}
        settings_by_product = self._settings_of(ids)
        stocked = self._stocked([p["id"] for sku, p in existing.items() if self._tracking_change(p, by_sku[sku])])
        for row in rows:
            sku = row.values["sku"]
            current = existing.get(sku)
            for code, _ in row.wishes.get("barcodes") or ():
                owner = owners.get(code)
                if owner is not None and owner != sku:
                    row.problem("barcodes", f"barcode {code} already belongs to product {owner}", value=code, conflict=True)
            for supplier_id, supplier_sku, _ in wanted_items.get(row.number, ()):
                owner = item_owners.get((supplier_id, supplier_sku))
                if owner is not None and owner != sku:
                    row.problem("supplier_sku", f"this supplier's SKU {supplier_sku} already belongs to product {owner}",
                                value=supplier_sku, conflict=True)
            if current is not None and self._tracking_change(current, row) and current["id"] in stocked:
                row.problem("tracking", f"cannot change tracking of {sku} from {current['tracking']} to "
                                        f"{row.values['tracking']} while it has stock", conflict=True)
            self._check_settings(row, current, settings_by_product)
            if row.problems:
                continue
            if current is None and not self.writing:
                row.action = "create"  # a new product's plan only matters to the writing pass, which makes it
                continue
            row.plan = self._plan(row, current, barcodes_by_product, items_by_product, wanted_items.get(row.number),
                                  settings_by_product)
            row.action = "create" if current is None else ("update" if row.plan.changed else "unchanged")

    def _wanted_barcodes(self, row: ParsedRow) -> list[tuple[str, Decimal, str, str]]:
        """(code, pack, the entry as written, identity) of each well-formed barcode of the row."""
        wanted: list[tuple[str, Decimal, str, str]] = []
        mine: set[str] = set()
        for entry in row.values["barcodes"]:
            code, _, pack_text = entry.partition(PACK_SEPARATOR)
            code = code.strip()
            pack = ONE
            if pack_text.strip():
                try:
                    pack = self.parser.qty(pack_text.strip())
                except ValueProblem as exc:
                    row.problem("barcodes", f"pack quantity of {code}: {exc}", value=entry)
                    continue
                if pack <= 0:
                    row.problem("barcodes", f"pack quantity of {code} must be at least 1", value=entry)
                    continue
            try:
                code = validate_barcode(code)
            except BadInput as exc:
                row.problem("barcodes", str(exc).removeprefix(f"barcode {code}: "), value=entry)
                continue
            if len(code) > 80:
                row.problem("barcodes", "a barcode is at most 80 characters", value=entry)
                continue
            identity = code.zfill(14) if code.isdigit() and len(code) in (8, 12, 13, 14) else code
            if identity in mine:
                row.problem("barcodes", f"barcode {code} is listed twice", value=entry)
                continue
            mine.add(identity)
            wanted.append((code, pack, entry, identity))
        return wanted

    def _wanted_items(self, row: ParsedRow) -> list[tuple[int, str | None, Decimal | None, str]] | None:
        """(supplier id, supplier SKU or None for the implied one, cost, the supplier as written)."""
        suppliers = row.values.get("supplier") or ()
        supplier_skus = row.values.get("supplier_sku") or ()
        costs = row.values.get("supplier_cost") or ()
        if not suppliers:
            if supplier_skus or costs:
                row.problem("supplier", "a supplier SKU or cost needs the supplier's name in the supplier column", value="")
            return None
        for column, values in (("supplier_sku", supplier_skus), ("supplier_cost", costs)):
            if values and len(values) != len(suppliers):
                row.problem(column, f"{len(values)} values for {len(suppliers)} suppliers: give one per supplier, joined by |")
                return None
        items: list[tuple[int, str | None, Decimal | None, str]] = []
        ids_seen: set[int] = set()
        for index, name in enumerate(suppliers):
            supplier_id = self.suppliers.get(name.lower())
            if supplier_id is None:
                row.problem("supplier", f"unknown supplier {name} (import suppliers first)", value=name)
                continue
            if supplier_id in ids_seen:
                row.problem("supplier", f"supplier {name} is listed twice", value=name)
                continue
            ids_seen.add(supplier_id)
            if not supplier_skus:  # resolved in check(): the stored one, else the product's SKU
                items.append((supplier_id, None, None if not costs else self._cost(row, costs[index]), name))
                continue
            supplier_sku = supplier_skus[index]
            if len(supplier_sku) > 80:
                row.problem("supplier_sku", "a supplier SKU is at most 80 characters", value=supplier_sku)
                continue
            cost = self._cost(row, costs[index]) if costs else None
            items.append((supplier_id, supplier_sku, cost, name))
        return items

    def _cost(self, row: ParsedRow, text: str) -> Decimal | None:
        try:
            return self.parser.money(text)
        except ValueProblem as exc:
            row.problem("supplier_cost", str(exc), value=text)
            return None

    def _resolve_implied_skus(self, rows: list[ParsedRow], existing: dict,
                              items_by_product: dict) -> dict[int, list[tuple[int, str, Decimal | None]]]:
        """Row number -> its supplier items, an implied supplier SKU being the stored one, else the product's SKU."""
        resolved = {}
        for row in rows:
            items = row.wishes.get("items")
            if items is None:
                continue
            current = existing.get(row.values["sku"])
            stored = items_by_product.get(current["id"], {}) if current else {}
            resolved[row.number] = [
                (s, sku if sku is not None else (stored[s][1] if s in stored else row.values["sku"]), cost)
                for s, sku, cost in items
            ]
        return resolved

    def _tracking_change(self, current: dict, row: ParsedRow) -> bool:
        wanted = row.values.get("tracking")
        return wanted is not None and wanted != current["tracking"]

    def _existing(self, skus: list[str]) -> dict[str, dict]:
        table = Product.__table__
        names = ("id", "sku", *PRODUCT_FIELDS)
        found: dict[str, dict] = {}
        for row in self.read_in(table.c.sku, skus, lambda clause: select(*(table.c[name] for name in names)).where(clause)):
            found[row[1]] = dict(zip(names, row))
        return found

    def _ids(self, skus: list[str]) -> dict[str, int]:
        table = Product.__table__
        found: dict[str, int] = {}
        found.update((sku, id_) for sku, id_ in self.read_in(table.c.sku, skus,
                                                             lambda clause: select(table.c.sku, table.c.id).where(clause)))
        return found

    def _barcodes_of(self, product_ids: list[int]) -> dict[int, dict[str, tuple[int, Decimal]]]:
        found: dict[int, dict[str, tuple[int, Decimal]]] = {}
        for id_, product_id, code, pack in self.read_in(
            Barcode.product_id, product_ids,
            lambda clause: select(Barcode.id, Barcode.product_id, Barcode.code, Barcode.pack_qty).where(clause),
        ):
            found.setdefault(product_id, {})[code] = (id_, pack)
        return found

    def _items_of(self, product_ids: list[int]) -> dict[int, dict[int, tuple[int, str, Decimal]]]:
        found: dict[int, dict[int, tuple[int, str, Decimal]]] = {}
        for clause in self.where_in(SupplierItem.product_id, product_ids):
            for id_, product_id, supplier_id, supplier_sku, cost in self.read(
                select(SupplierItem.id, SupplierItem.product_id, SupplierItem.supplier_id,
                       SupplierItem.supplier_sku, SupplierItem.cost).where(clause)
            ):
                found.setdefault(product_id, {})[supplier_id] = (id_, supplier_sku, cost)
        return found

    def _barcode_owners(self, codes: list[str]) -> dict[str, str]:
        """Code -> the SKU of the product that has it in any spelling (codes nobody has are left out)."""
        variants = {code: gtin_variants(code) for code in codes}
        stored: dict[str, str] = {}
        for code, sku in self.read_in(
            Barcode.code, sorted({v for spellings in variants.values() for v in spellings}),
            lambda clause: select(Barcode.code, Product.sku).join(Product, Product.id == Barcode.product_id).where(clause),
        ):
            stored[code] = sku
        if not stored:
            return {}
        owners: dict[str, str] = {}
        for code, spellings in variants.items():
            for spelling in spellings:
                owner = stored.get(spelling)
                if owner is not None:
                    owners[code] = owner
                    break
        return owners

    def _item_owners(self, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], str]:
        owners: dict[tuple[int, str], str] = {}
        wanted = set(pairs)
        for clause in self.where_in(SupplierItem.supplier_sku, sorted({sku for _, sku in pairs})):
            for supplier_id, supplier_sku, sku in self.read(
                select(SupplierItem.supplier_id, SupplierItem.supplier_sku, Product.sku)
                .join(Product, Product.id == SupplierItem.product_id).where(clause)
            ):
                if (supplier_id, supplier_sku) in wanted:
                    owners[(supplier_id, supplier_sku)] = sku
        return owners

    def _stocked(self, product_ids: list[int]) -> set[int]:
        stocked: set[int] = set()
        for clause in self.where_in(Balance.product_id, product_ids):
            stocked.update(id_ for (id_,) in self.read(select(Balance.product_id).where(clause, Balance.on_hand > 0).distinct()))
        return stocked

    def _settings_of(self, product_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
        """Max and safety stock of each product's home-warehouse reorder settings."""
        found: dict[int, tuple[Decimal, Decimal]] = {}
        for product_id, maximum, safety in self.read_in(
            ReorderSetting.product_id, product_ids,
            lambda clause: select(ReorderSetting.product_id, ReorderSetting.max_qty, ReorderSetting.safety_stock)
            .join(Product, Product.id == ReorderSetting.product_id)
            .where(clause, ReorderSetting.warehouse_id == home_warehouse()),
        ):
            found[product_id] = (maximum, safety)
        return found

    def _check_settings(self, row: ParsedRow, current: dict | None, settings_by_product: dict) -> None:
        """The maximum is not below the reorder point, the safety stock not above it."""
        point = row.values.get("reorder_point")
        if point is None:
            point = current["reorder_point"] if current else Decimal(0)
        stored = settings_by_product.get(current["id"], (Decimal(0), Decimal(0))) if current else (Decimal(0), Decimal(0))
        maximum = row.values.get("max_qty")
        safety = row.values.get("safety_stock")
        if maximum and maximum < point:
            row.problem("max_qty", f"the maximum is below the reorder point ({format(point.normalize(), 'f')})",
                        value=format(maximum.normalize(), "f"))
        elif maximum is None and stored[0] and stored[0] < point:
            row.problem("reorder_point", f"the reorder point is above the stored maximum ({format(stored[0].normalize(), 'f')})",
                        value=format(point.normalize(), "f"))
        if safety is not None and safety > point:
            row.problem("safety_stock", f"the safety stock is part of the reorder point ({format(point.normalize(), 'f')}): "
                        "it cannot be more", value=format(safety.normalize(), "f"))

    def _plan(self, row: ParsedRow, current: dict | None, barcodes_by_product: dict, items_by_product: dict,
              items: list[tuple[int, str, Decimal | None]] | None, settings_by_product: dict) -> _ProductPlan:
        values = row.values
        given = {}  # field -> the file's value
        for column, field in self.planned_columns:
            value = values.get(column)
            if value is not None:
                given[field] = self.locations[value].id if column == "default_location" else value
        barcodes = row.wishes.get("barcodes")
        settings = (values.get("max_qty"), values.get("safety_stock"))
        if current is None:  # a new product: everything is a change, nothing is stored to compare with
            return _ProductPlan(None, PRODUCT_DEFAULTS | given, True, barcodes, {}, items, {}, settings)
        product_id = current["id"]
        changed = False
        for field, value in given.items():
            if value != current[field]:
                changed = True
                break
        existing_barcodes = barcodes_by_product.get(product_id, {})
        if not changed and barcodes is not None and dict(barcodes) != {c: p for c, (_, p) in existing_barcodes.items()}:
            changed = True
        existing_items = items_by_product.get(product_id, {})
        if not changed and items is not None:
            now = {s: (sku, cost) for s, (_, sku, cost) in existing_items.items()}
            after = {s: (sku, existing_items[s][2] if cost is None and s in existing_items else (cost or Decimal(0)))
                     for s, sku, cost in items}
            changed = now != after
        if not changed:
            (maximum, safety), (stored_maximum, stored_safety) = settings, settings_by_product.get(product_id, (ZERO, ZERO))
            changed = (maximum is not None and maximum != stored_maximum) or (safety is not None and safety != stored_safety)
        # An unchanged product is not written: its plan needs no merged fields.
        fields = {f: current[f] for f in PRODUCT_FIELDS} | given if changed else {}
        return _ProductPlan(product_id, fields, changed, barcodes, existing_barcodes, items, existing_items, settings)

    # -- writing -------------------------------------------------------------------------

    def apply(self, batch: list[ParsedRow]) -> None:
        table = Product.__table__
        now = dt.datetime.now(dt.timezone.utc)
        new_rows = [row for row in batch if row.action == "create"]
        if new_rows:
            self.insert_rows(table, [
                {"sku": row.values["sku"], **row.plan.fields, "average_cost": ZERO, "created_at": now, "updated_at": now}
                for row in new_rows
            ])
            ids = self._ids([row.values["sku"] for row in new_rows])
            for row in new_rows:
                row.plan.product_id = ids[row.values["sku"]]
        updates = [row for row in batch if row.action == "update"]
        if updates:
            statement = update(table).where(table.c.id == bindparam("p_id")).values(
                {f: bindparam(f"p_{f}", type_=table.c[f].type) for f in PRODUCT_FIELDS} | {"updated_at": bindparam("p_updated_at")}
            )
            self.session.execute(statement, [
                {"p_id": row.plan.product_id, "p_updated_at": now, **{f"p_{f}": v for f, v in row.plan.fields.items()}}
                for row in updates
            ])
        self._apply_barcodes([row for row in batch if row.action in ("create", "update")])
        self._apply_items([row for row in batch if row.action in ("create", "update")])
        alerts.sync_imported(self.session, [(row.plan.product_id, row.plan.fields["reorder_point"], row.plan.fields["reorder_qty"],
                                             *row.plan.settings) for row in batch if row.action in ("create", "update")])

    def _apply_barcodes(self, rows: list[ParsedRow]) -> None:
        removed: list[int] = []
        added: list[dict] = []
        repacked: list[dict] = []
        for row in rows:
            plan: _ProductPlan = row.plan
            if plan.barcodes is None:
                continue
            wanted = dict(plan.barcodes)
            for code, (barcode_id, pack) in plan.existing_barcodes.items():
                if code not in wanted:
                    removed.append(barcode_id)
                elif wanted[code] != pack:
                    repacked.append({"p_id": barcode_id, "p_pack": wanted[code]})
            added += [{"product_id": plan.product_id, "code": code, "pack_qty": pack}
                      for code, pack in plan.barcodes if code not in plan.existing_barcodes]
        for chunk in _in_chunks(removed):
            if chunk:
                self.session.execute(delete(Barcode).where(Barcode.id.in_(chunk)))
        if repacked:
            self.session.execute(
                update(Barcode.__table__).where(Barcode.__table__.c.id == bindparam("p_id"))
                .values(pack_qty=bindparam("p_pack", type_=Barcode.__table__.c.pack_qty.type)), repacked)
        self.insert_rows(Barcode.__table__, added)

    def _apply_items(self, rows: list[ParsedRow]) -> None:
        removed: list[int] = []
        added: list[dict] = []
        changed: list[dict] = []
        for row in rows:
            plan: _ProductPlan = row.plan
            if plan.items is None:
                continue
            wanted = {supplier_id: (sku, cost) for supplier_id, sku, cost in plan.items}
            for supplier_id, (item_id, sku, cost) in plan.existing_items.items():
                if supplier_id not in wanted:
                    removed.append(item_id)
                else:
                    new_sku, new_cost = wanted[supplier_id]
                    new_cost = cost if new_cost is None else new_cost
                    if (new_sku, new_cost) != (sku, cost):
                        changed.append({"p_id": item_id, "p_sku": new_sku, "p_cost": new_cost})
            added += [{"product_id": plan.product_id, "supplier_id": supplier_id, "supplier_sku": sku,
                       "cost": cost or Decimal(0), "min_order_qty": Decimal(1)}
                      for supplier_id, (sku, cost) in wanted.items() if supplier_id not in plan.existing_items]
        table = SupplierItem.__table__
        for chunk in _in_chunks(removed):
            if chunk:
                self.session.execute(delete(table).where(table.c.id.in_(chunk)))
        if changed:
            self.session.execute(
                update(table).where(table.c.id == bindparam("p_id"))
                .values(supplier_sku=bindparam("p_sku"), cost=bindparam("p_cost", type_=table.c.cost.type)), changed)
        self.insert_rows(table, added)


# --- suppliers --------------------------------------------------------------------------------

SUPPLIER_FIELDS = ("code", "email", "phone", "lead_time_days", "active")


class SupplierImporter(Importer):
    """Suppliers by name; a new supplier without a code gets one made from its name."""

    kind = "suppliers"
    model: Any = Supplier
    fields = SUPPLIER_FIELDS
    defaults: dict[str, Any] = {"email": None, "phone": None, "lead_time_days": 7, "active": True}
    noun = "supplier"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen_names = SeenKeys()  # name -> row
        self.seen_codes = SeenKeys()  # lower-case code -> (row, name)

    def load(self) -> Any:
        table = self.model.__table__
        self.existing = {m["name"]: dict(m) for m in self.session.execute(
            select(table.c.id, table.c.name, *(table.c[f] for f in self.fields))).mappings()}
        self.code_owner = {m["code"].lower(): name for name, m in self.existing.items()}
        return self.existing

    def screen(self, batch: list[ParsedRow]) -> None:
        for row in batch:
            name = row.values.get("name")
            row.key = name or ""
            if not name:
                continue
            if name in self.seen_names:
                row.problem("name", f"{self.noun} {name} is also on row {self.seen_names[name]}")
                continue
            self.seen_names[name] = row.number
            current = self.existing.get(name)
            code = row.values.get("code")
            if code is None and current is None:
                code = "".join(ch for ch in name.upper() if ch.isalnum())[:12]
                if not code:
                    row.problem("code", "give a code: none can be made from this name", value="")
                    continue
            if code is not None:
                owner = self.code_owner.get(code.lower())
                if owner is not None and owner != name:
                    how = "" if row.values.get("code") else " (made from the name: give a code)"
                    row.problem("code", f"code {code} belongs to {self.noun} {owner}{how}", value=code, conflict=True)
                earlier = self.seen_codes.get(code.lower())
                if earlier is not None and earlier[1] != name:
                    row.problem("code", f"code {code} is also on row {earlier[0]}", value=code)
                self.seen_codes[code.lower()] = (row.number, name)
            if row.problems:
                continue
            base = {"code": code, **self.defaults} if current is None else {f: current[f] for f in self.fields}
            fields = dict(base)
            for column in self.fields:
                if row.values.get(column) is not None:
                    fields[column] = row.values[column]
            row.wishes = (None if current is None else current["id"], fields)
            row.action = "create" if current is None else ("update" if fields != base else "unchanged")

    def apply(self, batch: list[ParsedRow]) -> None:
        table = self.model.__table__
        new = [{"name": row.values["name"], **row.wishes[1]} for row in batch if row.action == "create"]
        if new:
            self.session.execute(insert(table), new)
        changed = [{"p_id": row.wishes[0], **{f"p_{f}": v for f, v in row.wishes[1].items()}} for row in batch if row.action == "update"]
        if changed:
            self.session.execute(update(table).where(table.c.id == bindparam("p_id")).values(
                {f: bindparam(f"p_{f}", type_=table.c[f].type) for f in self.fields}), changed)


class CustomerImporter(SupplierImporter):
    """Customers by name, as suppliers (``min_shelf_days``: a whole number of zero or more)."""

    kind = "customers"
    model = Customer
    fields = ("code", "email", "phone", "min_shelf_days", "active")
    defaults = {"email": None, "phone": None, "min_shelf_days": 0, "active": True}
    noun = "customer"


# --- locations --------------------------------------------------------------------------------

LOCATION_FIELDS = ("name", "kind", "warehouse_id", "barcode", "active", "pick_seq", "usage")


class LocationImporter(Importer):
    """Locations by code; a parent may be further down the same file; warehouses are created."""

    kind = "locations"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen = SeenKeys()  # code -> row
        self.seen_barcodes = SeenKeys()  # barcode -> (row, code)
        self.parents: dict[str, tuple[int, str]] = {}  # code -> (row, parent code)

    def load(self) -> Any:
        table = Location.__table__
        self.existing = {m["code"]: dict(m) for m in self.session.execute(
            select(table.c.id, table.c.code, table.c.parent_id, *(table.c[f] for f in LOCATION_FIELDS))).mappings()}
        self.code_by_id = {m["id"]: code for code, m in self.existing.items()}
        self.barcode_owner = {m["barcode"]: code for code, m in self.existing.items() if m["barcode"]}
        self.warehouses = dict(self.session.execute(select(Warehouse.code, Warehouse.id)).all())
        return self.existing, self.warehouses

    def check(self, batch: list[ParsedRow]) -> None:
        """A location that holds stock cannot become an area: asked of the store for those rows only."""
        becoming_areas = {row.wishes[0]: row for row in batch if not row.problems and row.wishes and row.wishes[0] is not None
                          and row.wishes[1]["kind"] == "view" and self.existing[row.values["code"]]["kind"] != "view"}
        for clause in self.where_in(Balance.location_id, sorted(becoming_areas)):
            for location_id in self.session.scalars(select(Balance.location_id).where(clause, Balance.on_hand > 0).distinct()):
                row = becoming_areas[location_id]
                row.problem("kind", f"location {row.values['code']} holds stock, so it cannot become an area (view)", conflict=True)

    def screen(self, batch: list[ParsedRow]) -> None:
        for row in batch:
            code = row.values.get("code")
            row.key = code or ""
            if not code:
                continue
            current = self.existing.get(code)
            if code in self.seen:
                row.problem("code", f"location {code} is also on row {self.seen[code]}")
                continue
            self.seen[code] = row.number
            if current is not None and current["kind"] not in ("internal", "view"):
                row.problem("code", f"{code} is a virtual location ({current['kind']}) and cannot be imported", conflict=True)
                continue
            if code in self.barcode_owner and self.barcode_owner[code] != code:
                row.problem("code", f"{code} is the barcode of location {self.barcode_owner[code]}", conflict=True)
            barcode = row.values.get("barcode")
            if barcode is not None:
                owner = self.barcode_owner.get(barcode)
                if owner is not None and owner != code:
                    row.problem("barcode", f"barcode {barcode} belongs to location {owner}", conflict=True)
                elif barcode != code and barcode in self.existing:
                    row.problem("barcode", f"barcode {barcode} is the code of another location", conflict=True)
                earlier = self.seen_barcodes.get(barcode)
                if earlier is not None:
                    row.problem("barcode", f"barcode {barcode} is also on row {earlier[0]} ({earlier[1]})")
                self.seen_barcodes[barcode] = (row.number, code)
            parent = row.values.get("parent")
            if parent is not None:
                if parent == code:
                    row.problem("parent", f"location {code} cannot be its own parent")
                else:
                    self.parents[code] = (row.number, parent)
            if row.problems:
                continue
            base = {"name": code, "kind": "internal", "warehouse_id": None, "barcode": None, "active": True,
                    "pick_seq": None, "usage": "stock"} if current is None else {f: current[f] for f in LOCATION_FIELDS}
            fields = dict(base)
            for column in ("name", "kind", "barcode", "active", "pick_seq", "usage"):
                if row.values.get(column) is not None:
                    fields[column] = row.values[column]
            warehouse = row.values.get("warehouse")
            if warehouse is not None:
                fields["warehouse_id"] = self.warehouses.get(warehouse, warehouse)  # a code: created on write
            parent_now = self.code_by_id.get(current["parent_id"]) if current else None
            changed = fields != base or (parent is not None and parent != parent_now)
            row.wishes = (None if current is None else current["id"], fields)
            row.action = "create" if current is None else ("update" if changed else "unchanged")

    def finish(self) -> list[Problem]:
        problems = []
        parent_of = {code: self.code_by_id.get(m["parent_id"]) for code, m in self.existing.items()}
        parent_of.update({code: parent for code, (_, parent) in self.parents.items()})
        for code, (row, parent) in self.parents.items():
            target = self.existing.get(parent)
            if parent not in self.seen and target is None:
                problems.append(Problem.make(row, "parent", parent, f"unknown location {parent} (not in the store or this file)"))
                continue
            if target is not None and target["kind"] not in ("internal", "view"):
                problems.append(Problem.make(row, "parent", parent, f"{parent} is a virtual location"))
                continue
            walk, seen = parent, {code}
            while walk is not None and walk not in seen:
                seen.add(walk)
                walk = parent_of.get(walk)
            if walk == code:
                problems.append(Problem.make(row, "parent", parent, f"parents would go round in a circle back to {code}"))
        return problems

    def apply(self, batch: list[ParsedRow]) -> None:
        table = Location.__table__
        for row in batch:
            warehouse = row.wishes[1]["warehouse_id"] if row.wishes else None
            if isinstance(warehouse, str):
                if warehouse not in self.warehouses:
                    self.warehouses[warehouse] = self.session.execute(
                        insert(Warehouse.__table__).values(code=warehouse, name=warehouse).returning(Warehouse.__table__.c.id)
                    ).scalar_one()
                row.wishes[1]["warehouse_id"] = self.warehouses[warehouse]
        new = [{"code": row.values["code"], **row.wishes[1]} for row in batch if row.action == "create"]
        if new:
            self.session.execute(insert(table), new)
        changed = [{"p_id": row.wishes[0], **{f"p_{f}": v for f, v in row.wishes[1].items()}} for row in batch if row.action == "update"]
        if changed:
            self.session.execute(update(table).where(table.c.id == bindparam("p_id")).values(
                {f: bindparam(f"p_{f}", type_=table.c[f].type) for f in LOCATION_FIELDS}), changed)

    def complete(self) -> None:
        if not self.parents:
            return
        ids = dict(self.session.execute(select(Location.code, Location.id)).all())
        table = Location.__table__
        self.session.execute(update(table).where(table.c.code == bindparam("p_code")).values(parent_id=bindparam("p_parent")),
                             [{"p_code": code, "p_parent": ids[parent]} for code, (_, parent) in self.parents.items()])


# --- opening stock ------------------------------------------------------------------------------


def stock_row_key(content: tuple[str, ...], occurrence: int) -> str:
    """The idempotency key of an opening-stock row: what the row says, and which repeat of it this is.

    Not the file's hash plus the row's position: that key would change when one row is added
    or corrected, and importing the amended file would post every other row a second time.
    Keyed on content, re-importing a file posts only rows not posted before; two identical
    rows in one file (two pallets of the same lot) are told apart by ``occurrence``.
    """
    digest = hashlib.sha256("\x1f".join(content).encode()).hexdigest()[:40]
    return f"import:stock:{digest}:{occurrence}"


@dataclass
class _StockWishes:
    """What the file alone says about an opening-stock row (screened once)."""

    key: str | None  # the idempotency key (None: the row is refused)
    move: StockMove | None
    earlier_serials: dict[str, int]  # serial -> the earlier row that has it for the same SKU
    earlier_lot: tuple[int, dt.date | None] | None  # the earlier row with this SKU's lot, and its expiry
    digest: str | None = None  # the posting's content digest (the file alone decides it: worked out before the write lock)


class StockImporter(Importer):
    """Opening stock: each row is an adjustment into its location, at its cost, via the ledger."""

    kind = "stock"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.occurrences = SeenKeys()  # row content -> how many rows so far had it
        self.seen_serials = SeenKeys()  # (sku, serial) -> row
        self.lot_expiry: dict[tuple[str, str], tuple[int, dt.date | None]] = {}

    def load(self) -> Any:
        self.locations = _load_locations(self.session)
        return self.locations

    def screen(self, batch: list[ParsedRow]) -> None:
        codes = {row.number: self._screen_row(row) for row in batch}
        pending = [(row, serial) for row in batch if row.values.get("sku") for serial in row.values.get("serial") or ()]
        earlier_rows = self.seen_serials.first_seen([((row.values["sku"], serial), row.number) for row, serial in pending])
        earlier_serials: dict[int, dict[str, int]] = {}
        for (row, serial), earlier in zip(pending, earlier_rows):
            if earlier is not None:
                earlier_serials.setdefault(row.number, {}).setdefault(serial, earlier)
        contents = {}
        for row in batch:
            values = row.values
            sku, lot, expiry, qty, cost = values.get("sku"), values.get("lot"), values.get("expiry"), values.get("qty"), values.get("unit_cost")
            earlier_lot = None
            if sku and lot:
                earlier_lot = self.lot_expiry.get((sku, lot))
                if earlier_lot is None or earlier_lot[1] is None:
                    self.lot_expiry[(sku, lot)] = (row.number, expiry)
            row.wishes = _StockWishes(None, None, earlier_serials.get(row.number, {}), earlier_lot)
            if not row.problems:
                serials = values.get("serial") or ()
                contents[row.number] = (sku, codes[row.number], format(qty.normalize(), "f"), lot or "",
                                        expiry.isoformat() if expiry else "", "|".join(serials),
                                        "" if cost is None else format(cost.normalize(), "f"))
        occurrences = iter(self.occurrences.count(list(contents.values())))
        for row in batch:
            content = contents.get(row.number)
            if content is None:
                continue
            sku, code, lot = content[0], content[1], row.values.get("lot")
            row.key = f"{sku} @ {code}" + (f" lot {lot}" if lot else "")
            row.wishes.key = stock_row_key(content, next(occurrences))
            row.wishes.move = StockMove(sku, row.values["qty"], ADJUSTMENT, code, lot, row.values.get("expiry"),
                                        tuple(row.values.get("serial") or ()), row.values.get("unit_cost"),
                                        reference=f"import {self.source_name} row {row.number}"[:200])
            row.wishes.digest = ledger.content_digest(POSTING_KIND, [row.wishes.move], OPENING_STOCK_REASON,
                                                      row.wishes.move.reference)

    def _screen_row(self, row: ParsedRow) -> str | None:
        """The row's own checks and its location (from the context); returns the location's code."""
        values = row.values
        sku, code, qty = values.get("sku"), values.get("location"), values.get("qty")
        row.key = f"{sku or ''} @ {code or ''}"
        if code:
            location = self.locations.get(code)
            if location is None:
                row.problem("location", f"unknown location {code} (import locations first)")
            elif location.kind == "view":
                row.problem("location", f"location {code} is an area, not a bin: choose one of its bins")
            elif location.kind not in STOCK_LOCATION_KINDS:
                row.problem("location", f"{code} is a virtual location, not a place stock can be")
            elif not location.active:
                row.problem("location", f"location {code} is inactive", conflict=True)
            else:
                code = location.code
        if qty is not None and qty <= 0:
            row.problem("qty", "quantity must be more than zero")
        if values.get("expiry") is not None and not values.get("lot"):
            row.problem("expiry", "an expiry date needs a lot")
        return code

    def check(self, batch: list[ParsedRow]) -> None:
        skus = sorted({row.values["sku"] for row in batch if row.values.get("sku")})
        products: dict[str, dict] = {}
        for clause in self.where_in(Product.sku, skus):
            for m in self.session.execute(select(Product.id, Product.sku, Product.tracking, Product.uom, Product.active)
                                          .where(clause)).mappings():
                products[m["sku"]] = dict(m)
        lots = self._lots(batch, products)
        in_stock = self._serials_in_stock(batch, products)
        for row in batch:
            self._check_row(row, products, lots)
        keys = [row.wishes.key for row in batch if not row.problems]
        posted: set[str] = set()
        for clause in self.where_in(Posting.idempotency_key, keys):
            posted.update(self.session.scalars(select(Posting.idempotency_key).where(clause)))
        for row in batch:
            if row.problems:
                continue
            row.plan = (row.wishes.key, row.wishes.move)
            if row.wishes.key in posted:
                row.action = "unchanged"
                continue
            move = row.wishes.move
            product_id = products[move.sku]["id"]
            for serial in move.serials:
                if (product_id, serial) in in_stock:
                    row.problem("serial", f"serial {serial} of {move.sku} is already in stock", value=serial, conflict=True)
            row.action = "refused" if row.problems else "create"

    def _lots(self, batch: list[ParsedRow], products: dict[str, dict]) -> dict[tuple[int, str], dt.date | None]:
        pairs = {(products[r.values["sku"]]["id"], r.values["lot"]) for r in batch
                 if r.values.get("lot") and r.values.get("sku") in products}
        found: dict[tuple[int, str], dt.date | None] = {}
        by_product = self.where_in(Lot.product_id, sorted({product_id for product_id, _ in pairs}))  # the index's first column
        for clause in self.where_in(Lot.code, sorted({code for _, code in pairs})):
            for product_id, code, expiry in self.session.execute(select(Lot.product_id, Lot.code, Lot.expiry)
                                                                 .where(clause, *by_product)):
                if (product_id, code) in pairs:
                    found[(product_id, code)] = expiry
        return found

    def _serials_in_stock(self, batch: list[ParsedRow], products: dict[str, dict]) -> set[tuple[int, str]]:
        serials = sorted({s for r in batch for s in r.values.get("serial") or ()})
        found: set[tuple[int, str]] = set()
        for clause in self.where_in(SerialNumber.serial, serials):
            found.update((product_id, serial) for product_id, serial in self.session.execute(
                select(SerialNumber.product_id, SerialNumber.serial).where(clause, SerialNumber.location_id.is_not(None))
            ))
        return found

    def _check_row(self, row: ParsedRow, products: dict, lots: dict) -> None:
        """The row against its product and lot as stored."""
        values = row.values
        sku, qty = values.get("sku"), values.get("qty")
        lot, expiry, serials = values.get("lot"), values.get("expiry"), values.get("serial") or ()
        product = products.get(sku) if sku else None
        if sku and product is None:
            row.problem("sku", f"unknown product {sku} (import products first)")
        elif product is not None and not product["active"]:
            row.problem("sku", f"product {sku} is inactive", conflict=True)
        if product is None or qty is None:
            return
        tracking = product["tracking"]
        if tracking == "lot" and not lot:
            row.problem("lot", f"{sku} is lot-tracked: give the lot", value="")
        if tracking == "serial":
            if Decimal(len(serials)) != qty:
                row.problem("serial", f"{sku} is serial-tracked: give one serial per unit "
                                      f"({qty.normalize():f} units, {len(serials)} serials), joined by |")
            if len(set(serials)) != len(serials):
                row.problem("serial", "a serial is listed twice")
            for serial, earlier in row.wishes.earlier_serials.items():
                row.problem("serial", f"serial {serial} is also on row {earlier}", value=serial)
        elif serials:
            row.problem("serial", f"{sku} is not serial-tracked: leave the serial empty")
        if qty != qty.to_integral_value() and product["uom"] in WHOLE_UNITS:
            row.problem("qty", f"{sku} is counted in whole {product['uom']}")
        if lot:
            stored = lots.get((product["id"], lot), "absent")
            earlier = row.wishes.earlier_lot
            if stored != "absent" and expiry is not None and stored is not None and stored != expiry:
                row.problem("expiry", f"lot {lot} of {sku} already has expiry {stored.isoformat()}", value=expiry.isoformat(), conflict=True)
            elif earlier is not None and expiry is not None and earlier[1] is not None and earlier[1] != expiry:
                row.problem("expiry", f"lot {lot} of {sku} has expiry {earlier[1].isoformat()} on row {earlier[0]}", value=expiry.isoformat())

    def apply(self, batch: list[ParsedRow]) -> None:
        """The batch's new rows as one ``ledger.post_receipts`` call: each row its own posting (its
        key, its content digest), written with a few set-based statements, not a dozen per row."""
        rows = [row for row in batch if row.action == "create"]
        if not rows:
            return
        receipts = [ledger.Receipt(row.plan[0], (row.plan[1],), row.plan[1].reference, row.wishes.digest) for row in rows]
        try:
            ledger.post_receipts(self.session, self.actor, POSTING_KIND, receipts, reason=OPENING_STOCK_REASON)
        except ledger.ReceiptRefused as exc:
            raise WriteAborted([Problem.make(rows[exc.index].number, "", "", str(exc.error),
                                             conflict=exc.error.exit_code == 1)]) from None
        except ImsError as exc:  # not one row's doing
            raise WriteAborted([Problem.make(0, "", "", str(exc), conflict=exc.exit_code == 1)]) from None


IMPORTERS: dict[str, type[Importer]] = {
    "products": ProductImporter,
    "suppliers": SupplierImporter,
    "customers": CustomerImporter,
    "locations": LocationImporter,
    "stock": StockImporter,
}
