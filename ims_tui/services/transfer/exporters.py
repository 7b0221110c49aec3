"""Exports to CSV and XLSX, streamed from the store in keyset-paged batches (memory stays flat).

CSV: UTF-8 with BOM (Excel shows accents), comma-separated, numbers with a decimal point,
dates ISO; exactly the import columns, so an export imports back unchanged.  XLSX: xlsxwriter
in ``constant_memory`` mode with typed cells (numbers, dates, booleans), number and date
formats, a frozen header row and an autofilter.  Text starting with ``= + - @``, tab or CR is
neutralised as OWASP advises: a ``'`` prefix in CSV (the importer removes it again) and
Excel's quote-prefix in XLSX; strings are never written as formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import xlsxwriter
import xlsxwriter.exceptions
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Barcode,
    Customer,
    Location,
    Lot,
    Movement,
    Posting,
    Product,
    ReorderSetting,
    SerialNumber,
    Supplier,
    SupplierItem,
    Warehouse,
)
from ims_tui.services import audit, audit_log
from ims_tui.services.alerts import home_warehouse
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.outputs import write_output, write_output_to_stream
from ims_tui.services.permissions import Permission, check
from ims_tui.services.transfer.columns import EXPORT_KINDS, LIST_SEPARATOR, PACK_SEPARATOR
from ims_tui.services.transfer.reading import FORMULA_TRIGGERS, neutralise

FORMATS = ("csv", "xlsx")
BATCH = 1000
XLSX_MAX_TEXT = 32767

# (column, type): text | money | cost | number | qty | int | date | datetime | bool
Columns = tuple[tuple[str, str], ...]

COLUMNS: dict[str, Columns] = {
    "products": (("sku", "text"), ("name", "text"), ("description", "text"), ("category", "text"), ("uom", "text"),
                 ("barcodes", "text"), ("unit_price", "money"), ("unit_cost", "money"), ("supplier", "text"),
                 ("supplier_sku", "text"), ("supplier_cost", "text"), ("reorder_point", "qty"), ("reorder_qty", "qty"),
                 ("max_qty", "qty"), ("safety_stock", "qty"), ("tracking", "text"), ("default_location", "text"), ("active", "bool")),
    "suppliers": (("name", "text"), ("code", "text"), ("email", "text"), ("phone", "text"),
                  ("lead_time_days", "int"), ("active", "bool")),
    "customers": (("name", "text"), ("code", "text"), ("email", "text"), ("phone", "text"),
                  ("min_shelf_days", "int"), ("active", "bool")),
    "locations": (("code", "text"), ("name", "text"), ("parent", "text"), ("warehouse", "text"),
                  ("barcode", "text"), ("kind", "text"), ("active", "bool"), ("pick_seq", "int"), ("usage", "text")),
    "stock": (("sku", "text"), ("location", "text"), ("qty", "qty"), ("lot", "text"), ("expiry", "date"),
              ("serial", "text"), ("unit_cost", "money")),
    "moves": (("id", "int"), ("at", "datetime"), ("kind", "text"), ("sku", "text"), ("qty", "qty"), ("from", "text"),
              ("to", "text"), ("lot", "text"), ("serial", "text"), ("unit_cost", "money"), ("reason", "text"),
              ("reference", "text"), ("user", "text"), ("station", "text")),
    "audit": (("id", "int"), ("at", "datetime"), ("username", "text"), ("role", "text"), ("station", "text"),
              ("action", "text"), ("target", "text"), ("product", "text"), ("summary", "text"), ("outcome", "text")),
}
WIDTHS = {"text": 18, "money": 12, "cost": 12, "number": 10, "qty": 10, "int": 8, "date": 11, "datetime": 19, "bool": 7}
WIDE = {"name": 32, "description": 40, "summary": 60, "barcodes": 30, "email": 28, "reason": 24, "reference": 24}


@dataclass(frozen=True)
class ExportResult:
    kind: str
    format: str
    rows: int
    path: str | None
    truncated_cells: int = 0

    def describe(self) -> str:
        where = f" to {self.path}" if self.path else ""
        note = (f" ({self.truncated_cells} cells longer than {XLSX_MAX_TEXT} characters were cut: XLSX cannot hold "
                "more; export CSV to keep them)") if self.truncated_cells else ""
        return f"exported {self.rows} {self.kind} as {self.format.upper()}{where}{note}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "format": self.format, "rows": self.rows, "path": self.path,
                "truncated_cells": self.truncated_cells}


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f").rstrip("0")


# --- rows from the store -------------------------------------------------------------------------


def _product_rows(store: Store) -> Iterator[tuple]:
    default_location = aliased(Location)
    last = ""
    while True:
        with store.read() as session:
            products = list(session.execute(
                select(Product.id, Product.sku, Product.name, Product.description, Product.category, Product.uom,
                       Product.unit_price, Product.standard_cost, Product.reorder_point, Product.reorder_qty,
                       Product.tracking, default_location.code, Product.active)
                .outerjoin(default_location, default_location.id == Product.default_location_id)
                .where(Product.sku > last).order_by(Product.sku).limit(BATCH)
            ))
            ids = [p[0] for p in products]
            barcodes: dict[int, list[str]] = {}
            settings: dict[int, tuple[Decimal, Decimal]] = {}
            items: dict[int, list[tuple[str, str, Decimal]]] = {}
            if ids:
                for product_id, code, pack in session.execute(
                    select(Barcode.product_id, Barcode.code, Barcode.pack_qty).where(Barcode.product_id.in_(ids)).order_by(Barcode.id)
                ):
                    barcodes.setdefault(product_id, []).append(code if pack == 1 else f"{code}{PACK_SEPARATOR}{_decimal_text(pack)}")
                for product_id, name, supplier_sku, cost in session.execute(
                    select(SupplierItem.product_id, Supplier.name, SupplierItem.supplier_sku, SupplierItem.cost)
                    .join(Supplier, Supplier.id == SupplierItem.supplier_id)
                    .where(SupplierItem.product_id.in_(ids)).order_by(SupplierItem.id)
                ):
                    items.setdefault(product_id, []).append((name, supplier_sku, cost))
                settings = {product_id: (maximum, safety) for product_id, maximum, safety in session.execute(
                    select(ReorderSetting.product_id, ReorderSetting.max_qty, ReorderSetting.safety_stock)
                    .join(Product, Product.id == ReorderSetting.product_id)
                    .where(ReorderSetting.product_id.in_(ids), ReorderSetting.warehouse_id == home_warehouse())
                )}
        for (id_, sku, name, description, category, uom, price, cost, reorder_point, reorder_qty, tracking,
             location, active) in products:
            supplied = items.get(id_, [])
            yield (sku, name, description, category, uom, LIST_SEPARATOR.join(barcodes.get(id_, [])), price, cost,
                   LIST_SEPARATOR.join(s[0] for s in supplied), LIST_SEPARATOR.join(s[1] for s in supplied),
                   LIST_SEPARATOR.join(_decimal_text(s[2]) for s in supplied), reorder_point, reorder_qty,
                   *settings.get(id_, (Decimal(0), Decimal(0))), tracking, location, active)
        if len(products) < BATCH:
            return
        last = products[-1][1]


def _by_name(store: Store, *columns) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    """Rows of a table with a unique first column (name), in batches ordered by it."""
    last = ""
    while True:
        with store.read() as session:
            rows = list(session.execute(select(*columns).where(columns[0] > last).order_by(columns[0]).limit(BATCH)))
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _supplier_rows(store: Store) -> Iterator[tuple]:
    return _by_name(store, Supplier.name, Supplier.code, Supplier.email, Supplier.phone, Supplier.lead_time_days,
                    Supplier.active)


def _customer_rows(store: Store) -> Iterator[tuple]:
    return _by_name(store, Customer.name, Customer.code, Customer.email, Customer.phone, Customer.min_shelf_days,
                    Customer.active)


def _location_rows(store: Store) -> Iterator[tuple]:
    parent = aliased(Location)
    last = ""
    while True:
        with store.read() as session:
            rows = list(session.execute(
                select(Location.code, Location.name, parent.code, Warehouse.code, Location.barcode, Location.kind, Location.active,
                       Location.pick_seq, Location.usage)
                .outerjoin(parent, parent.id == Location.parent_id)
                .outerjoin(Warehouse, Warehouse.id == Location.warehouse_id)
                .where(Location.kind.in_(("internal", "view")), Location.code > last)
                .order_by(Location.code).limit(BATCH)
            ))
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _stock_rows(store: Store) -> Iterator[tuple]:
    """On hand by product, location and lot; serial-tracked stock one row per serial.  The cost is
    the product's average cost, so re-importing the file values the stock as it was."""
    last = 0
    while True:
        with store.read() as session:
            rows = list(session.execute(
                select(Balance.id, Product.sku, Location.code, Balance.on_hand, Lot.code, Lot.expiry, Product.average_cost)
                .join(Product, Product.id == Balance.product_id).join(Location, Location.id == Balance.location_id)
                .outerjoin(Lot, Lot.id == Balance.lot_id)
                .where(Balance.id > last, Balance.on_hand > 0, Product.tracking != "serial")
                .order_by(Balance.id).limit(BATCH)
            ))
        for _, sku, location, on_hand, lot, expiry, cost in rows:
            yield (sku, location, on_hand, lot, expiry, None, cost)
        if len(rows) < BATCH:
            break
        last = rows[-1][0]
    last = 0
    while True:
        with store.read() as session:
            rows = list(session.execute(
                select(SerialNumber.id, Product.sku, Location.code, Lot.code, Lot.expiry, SerialNumber.serial, Product.average_cost)
                .join(Product, Product.id == SerialNumber.product_id).join(Location, Location.id == SerialNumber.location_id)
                .outerjoin(Lot, Lot.id == SerialNumber.lot_id)
                .where(SerialNumber.id > last).order_by(SerialNumber.id).limit(BATCH)
            ))
        for _, sku, location, lot, expiry, serial, cost in rows:
            yield (sku, location, Decimal(1), lot, expiry, serial, cost)
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _move_rows(store: Store) -> Iterator[tuple]:
    source, destination = aliased(Location), aliased(Location)
    last = 0
    while True:
        with store.read() as session:
            rows = list(session.execute(
                select(Movement.id, Movement.created_at, Posting.kind, Product.sku, Movement.qty, source.code,
                       destination.code, Lot.code, SerialNumber.serial, Movement.unit_cost, Movement.reason,
                       Movement.reference, Movement.username, Movement.station)
                .join(Posting, Posting.id == Movement.posting_id).join(Product, Product.id == Movement.product_id)
                .join(source, source.id == Movement.from_location_id)
                .join(destination, destination.id == Movement.to_location_id)
                .outerjoin(Lot, Lot.id == Movement.lot_id).outerjoin(SerialNumber, SerialNumber.id == Movement.serial_id)
                .where(Movement.id > last).order_by(Movement.id).limit(BATCH)
            ))
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _audit_rows(store: Store, actor: Actor) -> Iterator[tuple]:
    for entry in audit_log.iter_entries(store, actor):
        record = entry.as_record()
        yield tuple(record[name] for name, _ in COLUMNS["audit"])


def _count(store: Store, kind: str) -> int:
    counted = {
        "products": select(func.count()).select_from(Product),
        "suppliers": select(func.count()).select_from(Supplier),
        "customers": select(func.count()).select_from(Customer),
        "locations": select(func.count()).select_from(Location).where(Location.kind.in_(("internal", "view"))),
        "moves": select(func.count()).select_from(Movement),
    }.get(kind)
    if counted is None:
        return 0
    with store.read() as session:
        return session.scalar(counted) or 0


# --- writers -------------------------------------------------------------------------------------


def _csv_cell(value: Any, type_: str) -> str:
    if value is None:
        return ""
    if type_ == "bool":
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(str(value))


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def write_csv(out: IO[str], columns: Columns, rows: Iterator[tuple], tick: Callable[[int], None]) -> int:
    writer = csv.writer(out)
    writer.writerow([name for name, _ in columns])
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(value, type_) for value, (_, type_) in zip(row, columns, strict=True)])
        count += 1
        if count % BATCH == 0:
            tick(count)
    return count


def write_xlsx(
    path: Path,
    sheet_name: str,
    columns: Columns,
    rows: Iterator[tuple],
    tick: Callable[[int], None],
    extra: Callable[[Any], None] | None = None,
) -> tuple[int, int]:
    """Rows as typed cells; returns (rows written, text cells cut to Excel's limit).  ``extra``
    gets the workbook after the rows, to add sheets of its own (a report's chart)."""
    out = _StopsAtFirstError(path)
    workbook = xlsxwriter.Workbook(out, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
    })
    try:
        sheet = workbook.add_worksheet(sheet_name)
        header = workbook.add_format({"bold": True, "bottom": 1})
        quoted = workbook.add_format({"quote_prefix": True})
        formats = {
            "money": workbook.add_format({"num_format": "#,##0.00##"}),
            "cost": workbook.add_format({"num_format": "#,##0.00##"}),
            "number": workbook.add_format({"num_format": "#,##0.00"}),
            "qty": workbook.add_format({"num_format": "#,##0.###"}),
            "qty_whole": workbook.add_format({"num_format": "#,##0"}),
            "int": workbook.add_format({"num_format": "0"}),
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        }
        for index, (name, type_) in enumerate(columns):
            sheet.set_column(index, index, WIDE.get(name, WIDTHS[type_]))
        for index, (name, _) in enumerate(columns):
            sheet.write_string(0, index, name, header)
        sheet.freeze_panes(1, 0)
        count = cut = 0
        for count, row in enumerate(rows, start=1):
            for index, (value, (_, type_)) in enumerate(zip(row, columns, strict=True)):
                if value is None or value == "":
                    continue
                if type_ == "bool":
                    sheet.write_boolean(count, index, bool(value))
                elif type_ in ("money", "cost", "number", "qty", "int"):
                    number = Decimal(value)
                    style = "qty_whole" if type_ == "qty" and number == number.to_integral_value() else type_
                    sheet.write_number(count, index, float(number), formats[style])
                elif type_ == "datetime":
                    sheet.write_datetime(count, index, _utc(value), formats["datetime"])
                elif type_ == "date":
                    sheet.write_datetime(count, index, dt.datetime.combine(value, dt.time()), formats["date"])
                else:
                    text = str(value)
                    if len(text) > XLSX_MAX_TEXT:
                        text, cut = text[:XLSX_MAX_TEXT], cut + 1
                    sheet.write_string(count, index, text, quoted if text.startswith(FORMULA_TRIGGERS) else None)
            if count % BATCH == 0:
                tick(count)
        sheet.autofilter(0, 0, max(count, 1), len(columns) - 1)
        if extra is not None:
            extra(workbook)
    finally:
        try:
            _close(workbook)
        finally:
            out.close()
    return count, cut


class _StopsAtFirstError:
    """The file xlsxwriter's zip is written to.  After the first failed write (a full disk) every
    later operation is a no-op, so the zip's own clean-up at garbage collection cannot print a
    second error long after the first one was reported."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._failed = False
        self._position = 0

    def _guard(self, operation: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        if self._failed:
            return default
        try:
            return operation(*args)
        except OSError:
            self._failed = True
            raise

    def write(self, data: bytes) -> int:
        written = self._guard(self._file.write, data, default=len(data))
        self._position += written
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._guard(self._file.seek, offset, whence, default=offset if whence == 0 else self._position)
        return self._position

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._guard(self._file.flush)

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._guard(self._file.close)
        finally:
            if not self._file.closed:
                try:
                    self._file.close()
                except OSError:
                    pass


def _close(workbook: xlsxwriter.Workbook) -> None:
    """Close (write out) the workbook; xlsxwriter wraps a failed file write (a full disk) in its
    own exception, given back here as the OSError it was, so it reads like the CSV's."""
    try:
        workbook.close()
    except xlsxwriter.exceptions.FileCreateError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise cause from None


def write_to(destination: str | Path | IO[bytes], fmt: str, write: Callable[[Any], tuple[int, int]]) -> tuple[int, int, Path | None]:
    """Run ``write`` on a scratch file (a text stream for CSV, a path for XLSX) and put the result
    in place through :mod:`ims_tui.services.outputs` - renamed over a regular file, written through
    a device, FIFO or symlink, copied to a stream.  Returns (rows, cut cells, the final path or None)."""
    target = None if hasattr(destination, "write") else Path(destination).expanduser()  # type: ignore[arg-type]

    def produce(scratch: Path) -> tuple[int, int]:
        if fmt == "csv":
            with scratch.open("w", encoding="utf-8-sig", newline="") as out:
                return write(out)
        return write(scratch)

    if target is not None:
        count, cut = write_output(target, produce, suffix=f".{fmt}")
    else:
        count, cut = write_output_to_stream(destination, produce, suffix=f".{fmt}")  # type: ignore[arg-type]
    return count, cut, target


def export(
    store: Store,
    actor: Actor,
    kind: str,
    destination: str | Path | IO[bytes],
    *,
    fmt: str = "csv",
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Write ``kind`` to ``destination`` (a path, replaced only when the export is complete, or a
    binary stream).  Needs EXPORT; the audit log also needs VIEW_AUDIT.  The export is audited."""
    if kind not in EXPORT_KINDS:
        raise BadInput(f"cannot export {kind!r}: choose one of {', '.join(EXPORT_KINDS)}")
    if fmt not in FORMATS:
        raise BadInput(f"export format must be csv or xlsx, not {fmt!r}")
    check(store, actor, Permission.EXPORT, kind)
    if kind == "audit":
        check(store, actor, Permission.VIEW_AUDIT, "audit log export")
    total = _count(store, kind)
    columns = COLUMNS[kind]
    rows = {
        "products": _product_rows, "suppliers": _supplier_rows, "customers": _customer_rows,
        "locations": _location_rows,
        "stock": _stock_rows, "moves": _move_rows,
    }.get(kind)
    source = _audit_rows(store, actor) if kind == "audit" else rows(store)

    def tick(done: int) -> None:
        if progress is not None:
            progress("exporting", done, max(total, done))

    if fmt == "csv":
        count, cut, target = write_to(destination, fmt, lambda out: (write_csv(out, columns, source, tick), 0))
    else:
        count, cut, target = write_to(destination, fmt, lambda path: write_xlsx(path, kind, columns, source, tick))
    tick(count)

    def _work(session):
        audit.record(session, actor, f"export.{kind}", str(target.name if target else "stdout"), f"{count} rows as {fmt}")

    store.transact(_work)
    return ExportResult(kind, fmt, count, str(target) if target else None, cut)
