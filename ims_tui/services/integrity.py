"""``ims check``: prove the ledger's invariants hold in the store."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from ims_tui.db import chain
from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    ChainHead,
    ChainLink,
    CostLayer,
    Location,
    Lot,
    Movement,
    Product,
    SerialNumber,
)


@dataclass(frozen=True)
class CheckReport:
    products: int
    balances: int
    movements: int
    violations: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        verdict = "clean" if self.clean else f"{len(self.violations)} violation(s)"
        return f"{verdict}: {self.movements} movements, {self.balances} balances, {self.products} products checked"


def run_check(store: Store) -> CheckReport:
    with store.read() as session:
        violations = [
            *_balances_match_movements(session),
            *_nothing_negative(session),
            *_serials_in_one_place(session),
            *_layers_match_stock(session),
            *_reservations_match(session),
            *_alerts_match(session),
            *_chain_intact(session),
        ]
        return CheckReport(
            products=session.scalar(select(func.count()).select_from(Product)) or 0,
            balances=session.scalar(select(func.count()).select_from(Balance)) or 0,
            movements=session.scalar(select(func.count()).select_from(Movement)) or 0,
            violations=tuple(violations),
        )


def _names(session: Session) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    skus = dict(session.execute(select(Product.id, Product.sku)).all())
    locations = dict(session.execute(select(Location.id, Location.code)).all())
    lots = dict(session.execute(select(Lot.id, Lot.code)).all())
    return skus, locations, lots


def _balances_match_movements(session: Session) -> list[str]:
    """Per product x internal location x lot, the balance equals movements in minus out."""
    internal = select(Location.id).where(Location.kind == "internal")
    lot_key = func.coalesce(Movement.lot_id, 0)
    flows = union_all(
        select(Movement.product_id, Movement.to_location_id.label("location_id"), lot_key.label("lot_key"), Movement.qty.label("qty"))
        .where(Movement.to_location_id.in_(internal)),
        select(Movement.product_id, Movement.from_location_id, lot_key, (literal(0) - Movement.qty))
        .where(Movement.from_location_id.in_(internal)),
    ).subquery()
    ledger_sums = {
        (product_id, location_id, lot): total
        for product_id, location_id, lot, total in session.execute(
            select(flows.c.product_id, flows.c.location_id, flows.c.lot_key, func.sum(flows.c.qty)).group_by(
                flows.c.product_id, flows.c.location_id, flows.c.lot_key
            )
        )
    }
    balances = {
        (product_id, location_id, lot): on_hand
        for product_id, location_id, lot, on_hand in session.execute(
            select(Balance.product_id, Balance.location_id, Balance.lot_key, Balance.on_hand)
        )
    }
    skus, locations, lots = _names(session)
    problems = []
    for key in sorted(set(ledger_sums) | set(balances)):
        expected = ledger_sums.get(key, Decimal(0))
        actual = balances.get(key, Decimal(0))
        if expected != actual:
            product_id, location_id, lot = key
            lot_text = f" lot {lots.get(lot, lot)}" if lot else ""
            problems.append(
                f"balance mismatch: {skus.get(product_id, product_id)}{lot_text} at {locations.get(location_id, location_id)}: "
                f"balance {actual.normalize():f}, movements sum to {expected.normalize():f}"
            )
    return problems


def _nothing_negative(session: Session) -> list[str]:
    skus, locations, _ = _names(session)
    rows = session.execute(
        select(Balance.product_id, Balance.location_id, Balance.on_hand, Balance.reserved).where(
            (Balance.on_hand < 0) | (Balance.reserved < 0) | (Balance.reserved > Balance.on_hand)
        )
    )
    return [
        f"negative or over-reserved: {skus.get(p, p)} at {locations.get(loc, loc)}: on hand {oh.normalize():f}, reserved {res.normalize():f}"
        for p, loc, oh, res in rows
    ]


def _serials_in_one_place(session: Session) -> list[str]:
    """Each serial's net movements put it in at most one internal location, where its row says."""
    internal = select(Location.id).where(Location.kind == "internal")
    net = union_all(
        select(Movement.serial_id, Movement.to_location_id.label("location_id"), literal(1).label("n")).where(
            Movement.serial_id.is_not(None), Movement.to_location_id.in_(internal)
        ),
        select(Movement.serial_id, Movement.from_location_id, literal(-1)).where(
            Movement.serial_id.is_not(None), Movement.from_location_id.in_(internal)
        ),
    ).subquery()
    placed = session.execute(
        select(net.c.serial_id, net.c.location_id, func.sum(net.c.n))
        .group_by(net.c.serial_id, net.c.location_id)
        .having(func.sum(net.c.n) != 0)
    ).all()
    _, locations, _ = _names(session)
    serials = {row.id: row for row in session.scalars(select(SerialNumber))}
    problems = []
    where: dict[int, list[int]] = {}
    for serial_id, location_id, count in placed:
        if count not in (0, 1):
            problems.append(f"serial {serials[serial_id].serial}: {count} units at {locations.get(location_id)}")
        where.setdefault(serial_id, []).append(location_id)
    for serial_id, row in serials.items():
        places = where.get(serial_id, [])
        if len(places) > 1:
            problems.append(f"serial {row.serial} is in {len(places)} places: {', '.join(locations[p] for p in places)}")
        expected = places[0] if len(places) == 1 else None
        if row.location_id != expected:
            problems.append(
                f"serial {row.serial} is recorded at {locations.get(row.location_id, 'nowhere')}, movements say {locations.get(expected, 'nowhere')}"
            )
    return problems


def _layers_match_stock(session: Session) -> list[str]:
    """Cost layers' remaining quantity per product equals its stock in internal locations."""
    layers = dict(
        session.execute(select(CostLayer.product_id, func.sum(CostLayer.remaining_qty)).group_by(CostLayer.product_id)).all()
    )
    stock = dict(
        session.execute(
            select(Balance.product_id, func.sum(Balance.on_hand)).group_by(Balance.product_id)
        ).all()
    )
    skus, _, _ = _names(session)
    problems = []
    for product_id in sorted(set(layers) | set(stock)):
        in_layers = layers.get(product_id) or Decimal(0)
        on_hand = stock.get(product_id) or Decimal(0)
        if in_layers != on_hand:
            problems.append(
                f"valuation out of step: {skus.get(product_id, product_id)} has {on_hand.normalize():f} on hand, cost layers hold {in_layers.normalize():f}"
            )
    return problems


def _reservations_match(session: Session) -> list[str]:
    """Reserved = the open allocations at every balance; each order line's quantities add up
    (ordered = waiting + reserved + picked + shipped while open) and match its allocations."""
    from ims_tui.db.models import Allocation, SalesOrder, SalesOrderLine
    from ims_tui.services.reservations import OPEN_STATUSES, reserved_mismatches

    skus, locations, lots = _names(session)
    problems = []
    for product_id, location_id, lot, reserved, allocated in reserved_mismatches(session):
        lot_text = f" lot {lots.get(lot, lot)}" if lot else ""
        problems.append(
            f"reservation mismatch: {skus.get(product_id, product_id)}{lot_text} at {locations.get(location_id, location_id)}: "
            f"reserved {reserved.normalize():f}, open allocations hold {allocated.normalize():f}"
        )
    held = {
        (line_id, stage): qty
        for line_id, stage, qty in session.execute(
            select(Allocation.line_id, Allocation.stage, func.sum(Allocation.qty)).where(Allocation.qty > 0)
            .group_by(Allocation.line_id, Allocation.stage)
        )
    }
    rows = session.execute(
        select(SalesOrder.number, SalesOrder.status, SalesOrderLine.id, SalesOrderLine.line_no, SalesOrderLine.qty_ordered,
               SalesOrderLine.qty_waiting, SalesOrderLine.qty_reserved, SalesOrderLine.qty_picked, SalesOrderLine.qty_shipped)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
    )
    for number, status, line_id, line_no, ordered, waiting, reserved, picked, shipped in rows:
        where = f"{number} line {line_no}"
        if min(waiting, reserved, picked, shipped) < 0:
            problems.append(f"order line negative: {where}")
        if held.get((line_id, "reserved"), Decimal(0)) != reserved:
            problems.append(f"order line out of step: {where} says {reserved.normalize():f} reserved, "
                            f"its allocations hold {held.get((line_id, 'reserved'), Decimal(0)).normalize():f}")
        if held.get((line_id, "picked"), Decimal(0)) != picked:
            problems.append(f"order line out of step: {where} says {picked.normalize():f} picked, "
                            f"its packed allocations hold {held.get((line_id, 'picked'), Decimal(0)).normalize():f}")
        if status in OPEN_STATUSES and waiting + reserved + picked + shipped != ordered:
            problems.append(f"order line does not add up: {where} ordered {ordered.normalize():f}, waiting + reserved + "
                            f"picked + shipped = {(waiting + reserved + picked + shipped).normalize():f}")
        if status not in OPEN_STATUSES and waiting + reserved + picked:
            problems.append(f"order line of a {status} order still holds or waits: {where}")
    return problems


def _alerts_match(session: Session) -> list[str]:
    """An open reorder alert for exactly the products whose projected stock is below their point."""
    from ims_tui.db.models import Warehouse
    from ims_tui.services.alerts import mismatches

    problems = mismatches(session)
    if not problems:
        return []
    skus = dict(session.execute(select(Product.id, Product.sku)).all())
    warehouses = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    return [f"reorder alert out of step: {skus.get(product, product)} in {warehouses.get(warehouse, warehouse)}: {what}"
            for product, warehouse, what in problems]


def _chain_intact(session: Session) -> list[str]:
    """Every posting, movement and audit row has its link, hashes what it holds now, and the links
    of each stripe follow one another up to the stripe's head (see :mod:`ims_tui.db.chain`)."""
    problems: list[str] = []
    labels = {"postings": "posting", "movements": "movement", "audit_log": "audit row"}
    for table, columns in chain.CHAINED.items():
        links = session.execute(
            select(ChainLink.row_id, ChainLink.row_hash).where(ChainLink.tbl == table).order_by(ChainLink.row_id)
        ).yield_per(5000)
        rows = session.execute(select(*columns).order_by(columns[0])).yield_per(5000)
        problems += _compare_rows(labels[table], table, iter(rows), iter(links))
    heads = {head.stripe: head for head in session.scalars(select(ChainHead))}
    previous: dict[int, tuple[int, str]] = {}
    for stripe, seq, table, row_id, content, stored in session.execute(
        select(ChainLink.stripe, ChainLink.seq, ChainLink.tbl, ChainLink.row_id, ChainLink.row_hash, ChainLink.hash)
        .order_by(ChainLink.stripe, ChainLink.seq)
    ).yield_per(5000):
        last_seq, last_hash = previous.get(stripe, (0, chain.GENESIS))
        if seq != last_seq + 1:
            problems.append(f"hash chain {stripe}: links {last_seq + 1}..{seq - 1} are missing")
        expected = chain.link_hash(last_hash, table, row_id, content)
        if stored != expected:
            problems.append(f"hash chain {stripe}: link {seq} ({labels.get(table, table)} {row_id}) does not follow the link before it")
        previous[stripe] = (seq, stored)
    for stripe, head in heads.items():
        last_seq, last_hash = previous.get(stripe, (0, chain.GENESIS))
        if (head.seq, head.hash) != (last_seq, last_hash):
            problems.append(f"hash chain {stripe}: ends at link {last_seq}, its head says {head.seq}: links were removed or rewritten")
    return problems


def _compare_rows(label: str, table: str, rows, links) -> list[str]:  # type: ignore[no-untyped-def]
    """Merge rows and links (both ordered by id) and name every row that differs from its link."""
    problems = []
    row, link = next(rows, None), next(links, None)
    while row is not None or link is not None:
        if link is None or (row is not None and row[0] < link.row_id):
            problems.append(f"{label} {row[0]} has no link in the hash chain: written outside ims")
            row = next(rows, None)
        elif row is None or link.row_id < row[0]:
            problems.append(f"{label} {link.row_id} is in the hash chain but no longer in the store: deleted")
            link = next(links, None)
        else:
            if chain.row_hash(table, row) != link.row_hash:
                problems.append(f"{label} {row[0]} was changed after it was written")
            row, link = next(rows, None), next(links, None)
    return problems
