"""Lot trace for a recall, from the ledger.

* Forward, ``--lot L`` (or ``--serial S``): every movement of the lot - receipts from the supplier
  (with the PO), moves between bins, shipments (with the customer), returns - and the bins that
  hold it now.
* Backward, ``--so SO``: the shipments of a sales order, then the receipts of the lots and serials
  they carried, with the supplier and PO.

The customer of a shipment and the PO of a receipt are read from the movement's (else the
posting's) reference - ``SO-000001`` or ``SO-000001/2``, ``PO-000001/1`` - when it names an order
in the store, and left blank otherwise.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ims_tui.services.errors import BadInput
from ims_tui.services.reports.core import Dialect, Query, Report, ReportParams, register


def _prefix(sql: Dialect, column: str) -> str:
    """The order number in a reference: the part before ``/``."""
    if sql.pg:
        return f"split_part({column}, '/', 1)"
    return f"CASE WHEN instr({column}, '/') > 0 THEN substr({column}, 1, instr({column}, '/') - 1) ELSE {column} END"


STEP = """CASE WHEN f.kind = 'supplier' THEN 'received'
            WHEN t.kind = 'customer' THEN 'shipped'
            WHEN f.kind = 'customer' THEN 'returned by customer'
            WHEN t.kind = 'supplier' THEN 'returned to supplier'
            WHEN t.kind IN ('adjustment', 'scrap') THEN 'written off'
            WHEN f.kind IN ('adjustment', 'scrap') THEN 'found'
            ELSE 'moved' END"""


def _movement_rows(sql: Dialect, where: str) -> str:
    ref = "CASE WHEN m.reference <> '' THEN m.reference ELSE ps.reference END"
    return f"""
SELECT m.created_at AS at, m.id AS seq, {STEP} AS step, p.sku AS sku, COALESCE(lt.code, '') AS lot,
       COALESCE(sn.serial, '') AS serial, m.qty AS qty, f.code AS from_location, t.code AS to_location,
       {ref} AS reference,
       CASE WHEN f.kind = 'supplier' OR t.kind = 'supplier'
            THEN COALESCE(s.name, CASE WHEN ps.reference LIKE 'receipt from %' THEN substr(ps.reference, 14) ELSE '' END)
            ELSE '' END AS supplier,
       CASE WHEN f.kind = 'customer' OR t.kind = 'customer' THEN COALESCE(c.name, '') ELSE '' END AS customer
FROM movements m
JOIN postings ps ON ps.id = m.posting_id
JOIN products p ON p.id = m.product_id
JOIN locations f ON f.id = m.from_location_id
JOIN locations t ON t.id = m.to_location_id
LEFT JOIN lots lt ON lt.id = m.lot_id
LEFT JOIN serial_numbers sn ON sn.id = m.serial_id
LEFT JOIN purchase_orders po ON po.number = {_prefix(sql, ref)}
LEFT JOIN suppliers s ON s.id = po.supplier_id
LEFT JOIN sales_orders so ON so.number = {_prefix(sql, ref)}
LEFT JOIN customers c ON c.id = so.customer_id
WHERE {where}"""


def _on_hand_rows(where: str) -> str:
    return f"""
SELECT NULL AS at, 0 AS seq, 'on hand' AS step, p.sku AS sku, COALESCE(lt.code, '') AS lot, '' AS serial,
       b.on_hand AS qty, '' AS from_location, l.code AS to_location, '' AS reference, '' AS supplier, '' AS customer
FROM balances b JOIN products p ON p.id = b.product_id JOIN locations l ON l.id = b.location_id
LEFT JOIN lots lt ON lt.id = b.lot_id
WHERE b.on_hand > 0 AND {where}"""


def _trace(session: Session, params: ReportParams) -> Query:
    given = [name for name in ("lot", "serial", "so") if getattr(params, name)]
    if len(given) != 1:
        raise BadInput("trace needs one of --lot L (forward), --serial S (forward) or --so SO (backward)")
    sql = Dialect(session)
    product = ""
    bound: dict = {"lot": params.lot, "serial": params.serial, "so": params.so}
    if params.product is not None:
        from ims_tui.services.catalogue import find_product
        from ims_tui.services.errors import NotFound

        match = find_product(session, params.product)
        if match is None:
            raise NotFound(f"unknown product {params.product!r}")
        product = f" AND p.id = {int(match.product.id)}"
    if params.lot:
        lots = f"SELECT id FROM lots WHERE code = :lot{product.replace('p.id', 'product_id')}"
        exists = session.execute(_text(lots), bound).first()
        if exists is None:
            raise BadInput(f"no lot {params.lot!r}")
        text = (_movement_rows(sql, f"m.lot_id IN ({lots})") + "\nUNION ALL\n"
                + _on_hand_rows(f"b.lot_id IN ({lots})"))
    elif params.serial:
        serials = f"SELECT id FROM serial_numbers WHERE serial = :serial{product.replace('p.id', 'product_id')}"
        if session.execute(_text(serials), bound).first() is None:
            raise BadInput(f"no serial {params.serial!r}")
        text = _movement_rows(sql, f"m.serial_id IN ({serials})")
    else:
        ref = _prefix(sql, "CASE WHEN m.reference <> '' THEN m.reference ELSE ps.reference END")
        shipped = f"t.kind = 'customer' AND {ref} = :so"
        probe = (f"SELECT m.id FROM movements m JOIN postings ps ON ps.id = m.posting_id "
                 f"JOIN locations t ON t.id = m.to_location_id WHERE {shipped}")
        if session.execute(_text(probe), bound).first() is None:
            raise BadInput(f"no shipment of {params.so!r} in the ledger")
        ship_ref = _prefix(sql, "CASE WHEN sm.reference <> '' THEN sm.reference ELSE sps.reference END")
        carried = (f"SELECT 1 FROM movements sm JOIN postings sps ON sps.id = sm.posting_id "
                   f"JOIN locations st ON st.id = sm.to_location_id "
                   f"WHERE st.kind = 'customer' AND {ship_ref} = :so AND sm.product_id = m.product_id "
                   f"AND (sm.lot_id = m.lot_id OR sm.serial_id = m.serial_id)")
        text = (_movement_rows(sql, f"{shipped}{product}") + "\nUNION ALL\n"
                + _movement_rows(sql, f"f.kind = 'supplier' AND EXISTS ({carried}){product}"))
    return Query(text, bound, "at IS NULL, at, seq")


def _text(sql: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    return text(sql)


register(Report(
    name="trace",
    title="Lot trace",
    description="a lot or serial forward to bins and customers (--lot, --serial), or a sales order back to its "
                "lots, suppliers and POs (--so)",
    accepts=frozenset({"lot", "serial", "so", "product"}),
    columns=lambda params: (("at", "datetime"), ("step", "text"), ("sku", "text"), ("lot", "text"),
                            ("serial", "text"), ("qty", "qty"), ("from_location", "text"), ("to_location", "text"),
                            ("reference", "text"), ("supplier", "text"), ("customer", "text")),
    build=_trace,
    totals=False,
    notes="customer and PO come from the shipment's or receipt's reference when it names an order in the "
          "store, and are blank otherwise.",
))
