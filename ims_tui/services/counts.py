"""Cycle counts: tasks, blind counting at the ledger position, review, recounts and approval.

A count task names bins (a range, a zone, the bins holding some products, or the products an
ABC schedule says are due).  Counters record what they find, bin by bin - scans that count
their pack or GS1 quantity, one scan per serial, typed quantities - and never see what the
store expects.  Each line (bin x product x lot) keeps the *ledger position* at the moment it
was counted: the balance then, read under the balance's row lock, and the id of the last
movement of that balance.  So variance = counted - expected at that position stays exact while
pickers and receivers keep working in the same bins, with no freeze and no conflict wizard.

Submitting computes variances; lines within the tolerance (percentage and value, settings)
approve themselves and post at once, lines above it wait for a recount by a different counter
and then a manager's approval.  Posting is one ledger posting per approval (reason ``count``):
a gain opens a cost layer at the current cost, a loss consumes layers by the store's method.
Every line is checked first and every problem reported together; nothing posts unless all can.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, bindparam, case, func, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Location,
    Lot,
    Movement,
    Product,
    RecountRequest,
    SerialNumber,
    StockCount,
    StockCountBin,
    StockCountLine,
    utcnow,
)
from ims_tui.services import audit, changes, drafts, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.ledger import StockMove
from ims_tui.services.permissions import Permission, allows, check
from ims_tui.services.scans import resolve_product_in
from ims_tui.services.stock_settings import StockSettings, read_settings
from ims_tui.services.stock_transfers import TRANSIT_PREFIX

COUNT_PREFIX = "CC-"
ADJUSTMENT = "ADJUSTMENT"
CONSUMPTION_DAYS = 90
ABC_SHARES = (("A", Decimal("0.8")), ("B", Decimal("0.95")))
OPEN_LINE = ("open", "counted")
AWAITING = ("recount", "recounted")


def qty_text(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def money_text(value: Decimal | None) -> str:
    return "-" if value is None else format(value.quantize(Decimal("0.01")), "f")


class CountProblems(RuleViolation):
    """Lines that cannot be approved, all of them; nothing was posted."""

    def __init__(self, number: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{number}: {len(self.problems)} line(s) cannot be approved, nothing was posted")


# --- read models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountLineView:
    """One line; ``expected``, ``variance``, ``value`` and the serial differences are None for
    a viewer who may not see expected quantities (the counters)."""

    line_no: int
    location: str
    sku: str
    name: str
    lot: str | None
    status: str
    counted: Decimal | None
    counted_by: str | None
    round: int
    expected: Decimal | None = None
    position: int | None = None
    variance: Decimal | None = None
    value: Decimal | None = None
    missing_serials: tuple[str, ...] | None = None
    unexpected_serials: tuple[str, ...] | None = None
    first_counted: Decimal | None = None
    first_by: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None or k in ("counted", "lot", "counted_by")}


@dataclass(frozen=True)
class CountBinView:
    location: str
    status: str
    counted_by: str | None


@dataclass(frozen=True)
class CountView:
    number: str
    kind: str
    scope: str
    status: str
    created_by: str
    created_at: dt.datetime | None
    approved_by: str | None
    bins: tuple[CountBinView, ...]
    lines: tuple[CountLineView, ...]
    blind: bool

    @property
    def recounts(self) -> tuple[CountLineView, ...]:
        return tuple(line for line in self.lines if line.status == "recount")

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("bins", "lines")}
        data["bins"] = [asdict(b) for b in self.bins]
        data["lines"] = [line.to_dict() for line in self.lines]
        if not self.blind:
            data["variance_value"] = sum((ln.value or Decimal(0) for ln in self.lines), Decimal(0))
        return data

    def render(self) -> str:
        done = sum(1 for b in self.bins if b.status == "done")
        out = [f"{self.number}  {self.kind}: {self.scope}  [{self.status}]",
               f"created by {self.created_by}; bins counted {done}/{len(self.bins)}"
               + (f"; approved by {self.approved_by}" if self.approved_by else "")]
        todo = [b.location for b in self.bins if b.status != "done"]
        if todo and self.status == "open":
            out.append("to count: " + ", ".join(todo[:12]) + (f" ... {len(todo) - 12} more" if len(todo) > 12 else ""))
        if self.blind:
            out.append(f"{'#':>4} {'bin':<14} {'SKU':<14} {'lot':<10} {'counted':>8}  status")
            for line in self.lines:
                counted = "-" if line.status == "recount" else qty_text(line.counted)
                out.append(f"{line.line_no:>4} {line.location:<14} {line.sku:<14} {line.lot or '':<10} {counted:>8}  "
                           + ("recount" if line.status == "recount" else line.status))
        else:
            out.append(f"{'#':>4} {'bin':<14} {'SKU':<14} {'lot':<8} {'expected':>8} {'counted':>8} {'var':>7} "
                       f"{'value':>9}  status")
            for line in self.lines:
                out.append(
                    f"{line.line_no:>4} {line.location:<14} {line.sku:<14} {line.lot or '':<8} {qty_text(line.expected):>8} "
                    f"{qty_text(line.counted):>8} {qty_text(line.variance):>7} {money_text(line.value):>9}  {line.status}"
                    + (f" (first count {qty_text(line.first_counted)} by {line.first_by})" if line.first_by else "")
                )
                if line.missing_serials:
                    out.append(f"      missing serials: {', '.join(line.missing_serials)}")
                if line.unexpected_serials:
                    out.append(f"      unexpected serials: {', '.join(line.unexpected_serials)}")
            total = sum((ln.value or Decimal(0) for ln in self.lines), Decimal(0))
            out.append(f"variance value {money_text(total)}")
        if not self.lines:
            out.append("  nothing counted yet")
        return "\n".join(out)


@dataclass(frozen=True)
class CountSummary:
    number: str
    kind: str
    scope: str
    status: str
    bins: int
    bins_done: int
    lines: int
    recounts: int
    created_by: str
    created_at: dt.datetime | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RecordResult:
    """What a counter learns from a scan: what was counted, never what was expected."""

    number: str
    line_no: int
    location: str
    sku: str
    name: str
    lot: str | None
    added: Decimal
    counted: Decimal
    serial: str | None = None

    def describe(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        serial = f" serial {self.serial}" if self.serial else ""
        return f"{self.location}: +{qty_text(self.added)} {self.sku}{lot}{serial}, counted {qty_text(self.counted)}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ApproveResult:
    number: str
    status: str
    lines: int
    posting_id: int | None
    gains: Decimal
    losses: Decimal
    value: Decimal

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        posting = f" (posting {self.posting_id})" if self.posting_id else " (no differences to post)"
        return (f"{self.number}: {self.lines} line(s) approved, +{qty_text(self.gains)} / -{qty_text(self.losses)}, "
                f"value {money_text(self.value)}{posting}; count is {self.status}")


# --- helpers -------------------------------------------------------------------------------------


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _load(session: Session, number: str, *, lock: str | None = None) -> StockCount:
    query = select(StockCount).where(StockCount.number == number.strip().upper())
    if lock == "update":
        query = query.with_for_update()
    elif lock == "share":
        query = query.with_for_update(read=True)
    count = session.scalars(query).one_or_none()
    if count is None:
        raise NotFound(f"unknown count {number.strip()!r}")
    return count


def _new_number(session: Session) -> str:
    last = session.scalar(select(func.max(StockCount.id))) or 0
    return f"{COUNT_PREFIX}{last + 1:06d}"


def _bins_under(session: Session, code: str) -> list[Location]:
    """A bin, every bin under an area (zone), or a range ``FIRST..LAST`` of bin codes."""
    if ".." in code:
        first, _, last = (part.strip() for part in code.partition(".."))
        if not first or not last or first > last:
            raise BadInput(f"a range of bins is FIRST..LAST, not {code!r}")
        bins = list(session.scalars(
            select(Location).where(Location.kind == "internal", Location.active.is_(True),
                                   Location.code >= first, Location.code <= last).order_by(Location.code)
        ))
        if not bins:
            raise NotFound(f"no bins in the range {code}")
        return bins
    location = find_location(session, code)
    if location is None:
        raise NotFound(f"unknown location {code!r}")
    if location.kind == "internal":
        if not location.active:
            raise RuleViolation(f"location {location.code} is inactive")
        return [location]
    if location.kind != "view":
        raise BadInput(f"{location.code} is a virtual location: count bins")
    found: list[Location] = []
    frontier = [location.id]
    while frontier:
        children = list(session.scalars(select(Location).where(Location.parent_id.in_(frontier))))
        found += [child for child in children if child.kind == "internal" and child.active]
        frontier = [child.id for child in children if child.kind == "view"]
    if not found:
        raise RuleViolation(f"area {location.code} has no bins")
    return sorted(found, key=lambda b: b.code)


def _product(session: Session, code: str) -> Product:
    match = resolve_product_in(session, code)
    return session.scalars(select(Product).where(Product.sku == match.sku)).one()


def _stocked_bins(session: Session, product_ids: Iterable[int]) -> list[Location]:
    ids = sorted(set(product_ids))
    if not ids:
        return []
    return list(session.scalars(
        select(Location).where(Location.id.in_(
            select(Balance.location_id).where(Balance.product_id.in_(ids), Balance.on_hand > 0)
        ), Location.kind == "internal", Location.active.is_(True),
            ~Location.code.startswith(TRANSIT_PREFIX)).order_by(Location.code)  # goods in transit are counted on arrival
    ))


def abc_classes(session: Session, *, days: int = CONSUMPTION_DAYS) -> dict[int, str]:
    """Product id -> A, B or C by consumption value (issued to customers) over ``days``:
    A the products making the first 80% of it, B the next 15%, C the rest and the idle."""
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    customers = select(Location.id).where(Location.kind == "customer")
    rows = session.execute(
        select(Movement.product_id, func.sum(type_coerce(Movement.qty, BigInteger) * type_coerce(Movement.unit_cost, BigInteger)))
        .where(Movement.to_location_id.in_(customers), Movement.created_at >= since)
        .group_by(Movement.product_id)
    ).all()
    # qty and cost are scaled integers: the product of two is comparable, which is all ranking needs
    ranked = sorted(((int(value or 0), pid) for pid, value in rows), reverse=True)
    total = sum(value for value, _ in ranked) or 1
    classes: dict[int, str] = {}
    running = 0
    for value, pid in ranked:
        share = Decimal(running) / Decimal(total)
        classes[pid] = next((cls for cls, limit in ABC_SHARES if share < limit), "C") if value > 0 else "C"
        running += value
    for pid in session.scalars(select(Product.id).where(Product.active.is_(True))):
        classes.setdefault(pid, "C")
    return classes


def due_products(session: Session, settings: StockSettings, today: dt.date | None = None) -> list[tuple[int, str]]:
    """Products with stock whose class frequency says they are due, most overdue first, A first."""
    today = today or dt.date.today()
    classes = abc_classes(session)
    stocked = set(session.scalars(select(Balance.product_id).where(Balance.on_hand > 0).distinct()))
    last = dict(session.execute(
        select(StockCountLine.product_id, func.max(StockCountLine.counted_at))
        .where(StockCountLine.status.in_(("ok", "posted")))
        .group_by(StockCountLine.product_id)
    ).all())
    due = []
    for pid in stocked:
        cls = classes.get(pid, "C")
        counted = last.get(pid)
        age = (today - counted.date()).days if counted else 10**6
        if age >= settings.frequency_days[cls]:
            due.append((cls, -age, pid))
    due.sort()
    return [(pid, cls) for cls, _, pid in due[: settings.scheduled_max_products]]


# --- creating, listing, showing ------------------------------------------------------------------


def create_count(
    store: Store,
    actor: Actor,
    *,
    locations: Sequence[str] = (),
    products: Sequence[str] = (),
    scheduled: bool = False,
    recounts: bool = False,
) -> CountView:
    """A new count task (managers).  Exactly one of ``locations``, ``products``, ``scheduled``,
    ``recounts`` (the bins and products short picks asked to have recounted)."""
    if sum((bool(locations), bool(products), scheduled, recounts)) != 1:
        raise BadInput("give exactly one of --locations, --products, --scheduled or --recounts")
    check(store, actor, Permission.APPROVE_COUNT, "count")

    def work(session: Session) -> CountView:
        product_ids: list[int] = []
        if locations:
            kind = "locations"
            bins: dict[int, Location] = {}
            for code in locations:
                for location in _bins_under(session, code):
                    bins.setdefault(location.id, location)
            chosen = sorted(bins.values(), key=lambda b: b.code)
            scope = " ".join(code.strip() for code in locations)
        elif products:
            kind = "products"
            found = [_product(session, code) for code in products]
            product_ids = sorted({p.id for p in found})
            chosen = _stocked_bins(session, product_ids)
            scope = " ".join(sorted({p.sku for p in found}))
        elif recounts:
            kind = "recounts"
            asked = session.execute(
                select(Location, Product.id, Product.sku)
                .join(RecountRequest, RecountRequest.location_id == Location.id)
                .join(Product, Product.id == RecountRequest.product_id)
                .where(RecountRequest.done_at.is_(None))
            ).all()
            if not asked:
                raise RuleViolation("no bin waits for a recount")
            product_ids = sorted({product_id for _, product_id, _ in asked})
            chosen = sorted({location.id: location for location, _, _ in asked}.values(), key=lambda b: b.code)
            scope = " ".join(sorted({f"{sku}@{location.code}" for location, _, sku in asked}))
        else:
            kind = "scheduled"
            due = due_products(session, read_settings(session))
            if not due:
                raise RuleViolation("no product is due for a count")
            product_ids = sorted(pid for pid, _ in due)
            chosen = _stocked_bins(session, product_ids)
            skus = dict(session.execute(select(Product.id, Product.sku).where(Product.id.in_(product_ids))).all())
            by_class = defaultdict(list)
            for pid, cls in due:
                by_class[cls].append(skus[pid])
            scope = "; ".join(f"{cls}: {' '.join(sorted(by_class[cls]))}" for cls in sorted(by_class))
        if not chosen:
            raise RuleViolation("nothing to count: no bins hold those products")
        for attempt in range(10):
            number = _new_number(session)
            if attempt:
                number = f"{COUNT_PREFIX}{int(number[len(COUNT_PREFIX):]) + attempt:06d}"
            count = StockCount(number=number, kind=kind, scope=scope[:4000], status="open", created_by=actor.username)
            try:
                with session.begin_nested():
                    session.add(count)
                    session.flush()
                break
            except IntegrityError:
                continue
        else:
            raise RuleViolation("could not allocate a count number; try again")
        session.execute(_insert(session)(StockCountBin), [
            {"count_id": count.id, "location_id": b.id, "seq": i, "status": "todo"} for i, b in enumerate(chosen)
        ])
        if product_ids:
            # the task's products are its scope: one open line per product (no bin, no figure yet)
            # would reveal nothing, but lines need a bin, so the scope is kept on the bins' balances
            _scope_products(session, count, product_ids, chosen)
        audit.record(session, actor, "count.create", count.number, f"{kind}: {scope[:300]}; {len(chosen)} bins")
        changes.emit(session, "counts", count.number)
        return _view(session, count, blind=False)

    return store.transact(work)


def _scope_products(session: Session, count: StockCount, product_ids: list[int], bins: list[Location]) -> None:
    """Open lines for the products a product-scoped count is about, in the bins holding them;
    nothing expected is stored until a line is counted."""
    rows = session.execute(
        select(Balance.location_id, Balance.product_id, Balance.lot_key, Balance.lot_id)
        .where(Balance.product_id.in_(product_ids), Balance.location_id.in_([b.id for b in bins]), Balance.on_hand > 0)
    ).all()
    order = {b.id: i for i, b in enumerate(bins)}
    rows = sorted(rows, key=lambda r: (order[r.location_id], r.product_id, r.lot_key))
    session.execute(_insert(session)(StockCountLine), [
        {"count_id": count.id, "line_no": n, "location_id": r.location_id, "product_id": r.product_id,
         "lot_key": r.lot_key, "lot_id": r.lot_id, "status": "open", "round": 1,
         "counted_serials": [], "expected_serials": []}
        for n, r in enumerate(rows, start=1)
    ])


def _may_see_expected(store: Store, actor: Actor) -> bool:
    """Only roles that approve counts see expected quantities (re-read for signed-in users)."""
    role = actor.role
    if actor.user_id is not None:
        from ims_tui.db.models import User

        with store.read() as session:
            role = session.scalar(select(User.role).where(User.id == actor.user_id)) or role
    return allows(role, Permission.APPROVE_COUNT)


def get_count(store: Store, actor: Actor, number: str) -> CountView:
    """The count; expected quantities and variances only for those who approve counts."""
    check(store, actor, Permission.COUNT, number)
    blind = not _may_see_expected(store, actor)
    with store.read() as session:
        return _view(session, _load(session, number), blind=blind)


def list_counts(store: Store, actor: Actor, *, status: str | None = None, open_only: bool = False,
                limit: int = 50, offset: int = 0) -> list[CountSummary]:
    check(store, actor, Permission.COUNT, "counts")
    bins = (select(StockCountBin.count_id, func.count().label("bins"),
                   func.sum(case((StockCountBin.status == "done", 1), else_=0)).label("done"))
            .group_by(StockCountBin.count_id).subquery())
    lines = (select(StockCountLine.count_id, func.count().label("lines"),
                    func.sum(case((StockCountLine.status == "recount", 1), else_=0)).label("recounts"))
             .group_by(StockCountLine.count_id).subquery())
    query = (
        select(StockCount.number, StockCount.kind, StockCount.scope, StockCount.status, bins.c.bins, bins.c.done,
               lines.c.lines, lines.c.recounts, StockCount.created_by, StockCount.created_at)
        .outerjoin(bins, bins.c.count_id == StockCount.id)
        .outerjoin(lines, lines.c.count_id == StockCount.id)
        .order_by(StockCount.id.desc()).limit(limit).offset(offset)
    )
    if status:
        query = query.where(StockCount.status == status)
    if open_only:
        query = query.where(StockCount.status.in_(("open", "review")))
    with store.read() as session:
        return [
            CountSummary(n, k, s, st, b or 0, int(d or 0), ln or 0, int(r or 0), by, at)
            for n, k, s, st, b, d, ln, r, by, at in session.execute(query)
        ]


def _view(session: Session, count: StockCount, *, blind: bool) -> CountView:
    bins = session.execute(
        select(Location.code, StockCountBin.status, StockCountBin.counted_by)
        .join(Location, Location.id == StockCountBin.location_id)
        .where(StockCountBin.count_id == count.id).order_by(StockCountBin.seq)
    ).all()
    rows = session.execute(
        select(StockCountLine, Location.code, Product.sku, Product.name, Lot.code)
        .join(Location, Location.id == StockCountLine.location_id)
        .join(Product, Product.id == StockCountLine.product_id)
        .outerjoin(Lot, Lot.id == StockCountLine.lot_id)
        .where(StockCountLine.count_id == count.id).order_by(StockCountLine.line_no)
    ).all()
    lines = []
    for line, location, sku, name, lot in rows:
        if blind and line.status in ("open",) and line.counted_qty is None:
            continue  # the counter is told bins and products to count, not what the store holds
        counted = None if line.status == "recount" and blind else line.counted_qty
        if blind:
            lines.append(CountLineView(line.line_no, location, sku, name, lot, line.status, counted, line.counted_by, line.round))
            continue
        variance = _variance(line)
        if line.status == "recount" and line.first_qty is not None and line.first_expected is not None:
            variance = line.first_qty - line.first_expected  # what the recount is about
        missing, unexpected = _serial_differences(line)
        lines.append(CountLineView(
            line.line_no, location, sku, name, lot, line.status, line.counted_qty, line.counted_by, line.round,
            expected=line.expected_qty, position=line.position, variance=variance,
            value=(variance * line.unit_cost).quantize(Decimal("0.01")) if variance is not None and line.unit_cost is not None else None,
            missing_serials=missing, unexpected_serials=unexpected,
            first_counted=line.first_qty, first_by=line.first_by,
        ))
    return CountView(
        count.number, count.kind, count.scope, count.status, count.created_by, count.created_at, count.approved_by,
        tuple(CountBinView(*b) for b in bins), tuple(lines), blind,
    )


def _variance(line: StockCountLine) -> Decimal | None:
    if line.counted_qty is None or line.expected_qty is None:
        return None
    return line.counted_qty - line.expected_qty


def _serial_differences(line: StockCountLine) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if not line.counted_serials and not line.expected_serials:
        return None, None
    counted, expected = set(line.counted_serials or ()), set(line.expected_serials or ())
    return tuple(sorted(expected - counted)), tuple(sorted(counted - expected))


# --- counting --------------------------------------------------------------------------------------


@dataclass
class _Position:
    on_hand: Decimal
    movement_id: int
    serials: list[str]


_BALANCE_ROW = (
    select(Balance.on_hand)
    .where(Balance.product_id == bindparam("product"), Balance.location_id == bindparam("location"),
           Balance.lot_key == bindparam("lot_key"))
    .with_for_update()
)
_LAST_MOVEMENT = {
    lotted: select(func.max(Movement.id)).where(
        Movement.product_id == bindparam("product"),
        Movement.lot_id == bindparam("lot_key") if lotted else Movement.lot_id.is_(None),
        or_(Movement.from_location_id == bindparam("location"), Movement.to_location_id == bindparam("location")),
    )
    for lotted in (False, True)
}
_ZERO_BALANCE: dict[str, object] = {}


def _zero_balance(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect not in _ZERO_BALANCE:
        _ZERO_BALANCE[dialect] = (
            _insert(session)(Balance)
            .values(product_id=bindparam("product"), location_id=bindparam("location"), lot_key=bindparam("lot_key"),
                    lot_id=bindparam("lot_id"), on_hand=0, reserved=0)
            .on_conflict_do_nothing(index_elements=["product_id", "location_id", "lot_key"])
        )
    return _ZERO_BALANCE[dialect]


def _position(session: Session, product: Product, location_id: int, lot_key: int) -> _Position:
    """The balance now, with its row locked (a posting in flight finishes first), and the last
    movement of that balance; for serial products, the serials recorded there."""
    connection = session.connection()
    params = {"product": product.id, "location": location_id, "lot_key": lot_key}
    connection.execute(_zero_balance(session), {**params, "lot_id": lot_key or None})
    on_hand = connection.execute(_BALANCE_ROW, params).scalar()
    last = connection.execute(_LAST_MOVEMENT[bool(lot_key)], params).scalar() or 0
    serials: list[str] = []
    if product.tracking == "serial":
        lot_filter = SerialNumber.lot_id == lot_key if lot_key else SerialNumber.lot_id.is_(None)
        serials = sorted(session.scalars(
            select(SerialNumber.serial).where(SerialNumber.product_id == product.id,
                                              SerialNumber.location_id == location_id, lot_filter)
        ))
    return _Position(on_hand or Decimal(0), last, serials)


def _stamp(session: Session, line: StockCountLine, product: Product, actor: Actor) -> None:
    position = _position(session, product, line.location_id, line.lot_key)
    line.expected_qty = position.on_hand
    line.position = position.movement_id
    line.expected_serials = position.serials
    line.counted_by = actor.username
    line.counted_at = dt.datetime.now(dt.timezone.utc)


def _bin(session: Session, count: StockCount, code: str) -> tuple[Location, StockCountBin]:
    location = find_location(session, code)
    if location is None:
        raise NotFound(f"unknown location {code!r}")
    row = session.scalars(
        select(StockCountBin).where(StockCountBin.count_id == count.id, StockCountBin.location_id == location.id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise RuleViolation(f"{location.code} is not a bin of {count.number}")
    return location, row


def _lot(session: Session, product: Product, code: str | None, expiry: dt.date | None) -> Lot | None:
    if product.tracking != "lot" and not code:
        return None
    if not code:
        raise RuleViolation(f"{product.sku} is lot-tracked: scan its label or give the lot")
    code = code.strip()
    lot = session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == code)).one_or_none()
    if lot is None:  # a lot the store never saw: the count finds it, the approval books it
        try:
            with session.begin_nested():
                lot = Lot(product_id=product.id, code=code, expiry=expiry)
                session.add(lot)
                session.flush()
        except IntegrityError:
            lot = session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == code)).one()
    return lot


def _line(session: Session, count: StockCount, location: Location, product: Product, lot: Lot | None,
          *, create: bool, known_missing: bool = False) -> StockCountLine | None:
    """The count's line for this bin, product and lot; a new one when ``create``.  Callers hold
    the count row's lock (``FOR UPDATE``), so line numbers never collide."""
    lot_key = lot.id if lot else 0
    if not known_missing:
        line = session.scalars(
            select(StockCountLine).where(
                StockCountLine.count_id == count.id, StockCountLine.location_id == location.id,
                StockCountLine.product_id == product.id, StockCountLine.lot_key == lot_key,
            )
        ).one_or_none()
        if line is not None:
            return line
    if not create:
        return None
    next_no = (session.connection().execute(
        select(func.max(StockCountLine.line_no)).where(StockCountLine.count_id == count.id)).scalar() or 0) + 1
    line = StockCountLine(count_id=count.id, line_no=next_no, location_id=location.id, product_id=product.id,
                          lot_key=lot_key, lot_id=lot.id if lot else None, status="open", round=1,
                          counted_serials=[], expected_serials=[])
    session.add(line)
    session.flush()
    return line


def _in_scope(session: Session, count: StockCount, product: Product) -> None:
    if count.kind in ("products", "scheduled", "recounts"):
        known = session.scalar(select(StockCountLine.id).where(
            StockCountLine.count_id == count.id, StockCountLine.product_id == product.id).limit(1))
        if known is None:
            raise RuleViolation(f"{product.sku} is not in {count.number}: count only its products")


def _may_recount(line: StockCountLine, actor: Actor) -> None:
    if line.first_by == actor.username:
        raise RuleViolation(f"line {line.line_no} was counted by {actor.username}: a different counter must recount it")


@dataclass(frozen=True)
class CountEntry:
    """One thing a counter records: ``qty`` of ``code`` (a scan) at ``location``."""

    location: str
    code: str
    qty: Decimal | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    serials: tuple[str, ...] = ()
    replace: bool = False


def record(
    store: Store,
    actor: Actor,
    number: str,
    location: str,
    code: str,
    qty: Decimal | None = None,
    *,
    lot: str | None = None,
    expiry: dt.date | None = None,
    serials: Sequence[str] = (),
    replace: bool = False,
) -> RecordResult:
    """Count ``code`` (a scan: product, case or GS1 label) at ``location``.

    ``qty`` is how many of what was scanned (a case barcode counts its pack, a GS1 label its
    count element), default one; each serial counts one.  ``replace`` sets the line's count
    instead of adding to it.  Returns what was counted - never the expected quantity.
    """
    entry = CountEntry(location, code, qty, lot, expiry, tuple(serials), replace)
    return record_many(store, actor, number, [entry])[0]


def record_many(store: Store, actor: Actor, number: str, entries: Sequence[CountEntry]) -> list[RecordResult]:
    """Several records in one transaction (a sheet typed in, a handheld's batch): all or none."""
    check(store, actor, Permission.COUNT, number)
    for entry in entries:
        if entry.qty is not None and (not entry.qty.is_finite() or entry.qty < 0 or (entry.qty == 0 and not entry.replace)):
            raise BadInput(f"quantity must be more than zero, not {qty_text(entry.qty)}")

    def work(session: Session) -> list[RecordResult]:
        count = _load(session, number, lock="update")  # recorders of one count take turns: line numbers stay unique
        if count.status not in ("open", "review"):
            raise RuleViolation(f"{count.number} is {count.status}: nothing more can be counted")
        batch = _Batch(session, count)
        results = [_record(session, actor, count, entry, batch) for entry in entries]
        if len(results) == 1:
            r = results[0]
            summary = f"line {r.line_no}: {'=' if entries[0].replace else '+'}{qty_text(r.added)} {r.sku}" \
                      + (f" lot {r.lot}" if r.lot else "") + f" at {r.location}"
        else:
            summary = f"{len(results)} records in {len({r.location for r in results})} bin(s)"
        audit.record(session, actor, "count.scan", count.number, summary)
        changes.emit(session, "counts", count.number)
        return results

    return store.transact(work)


class _Batch:
    """What one transaction of records looks up once: scans, products, bins, the count's lines."""

    def __init__(self, session: Session, count: StockCount) -> None:
        self.session = session
        self.count = count
        self.scans: dict[str, tuple] = {}
        self.bins: dict[str, tuple[Location, StockCountBin]] = {}
        self.scoped: set[int] = set()
        self.lines: dict[tuple[int, int, int], StockCountLine] | None = None

    def product(self, code: str):  # type: ignore[no-untyped-def]
        if code not in self.scans:
            scan = resolve_product_in(self.session, code)
            product = self.session.scalars(select(Product).where(Product.sku == scan.sku)).one()
            if product.id not in self.scoped:
                _in_scope(self.session, self.count, product)
                self.scoped.add(product.id)
            self.scans[code] = (scan, product)
        return self.scans[code]

    def bin(self, code: str) -> tuple[Location, StockCountBin]:
        if code not in self.bins:
            self.bins[code] = _bin(self.session, self.count, code)
        return self.bins[code]

    def line(self, location: Location, product: Product, lot: Lot | None, *, create: bool) -> StockCountLine | None:
        if self.lines is None:
            self.lines = {(ln.location_id, ln.product_id, ln.lot_key): ln for ln in self.session.scalars(
                select(StockCountLine).where(StockCountLine.count_id == self.count.id))}
        key = (location.id, product.id, lot.id if lot else 0)
        if key not in self.lines:
            found = _line(self.session, self.count, location, product, lot, create=create, known_missing=True)
            if found is None:
                return None
            self.lines[key] = found
        return self.lines[key]


def _record(session: Session, actor: Actor, count: StockCount, entry: CountEntry, batch: _Batch) -> RecordResult:
    qty, replace = entry.qty, entry.replace
    scan, product = batch.product(entry.code)
    where, bin_row = batch.bin(entry.location)
    scanned_serials = [s.strip() for s in (*entry.serials, *([scan.serial] if scan.serial else [])) if s and s.strip()]
    per_scan = scan.pack_qty * (scan.quantity or Decimal(1))
    if product.tracking == "serial":
        if not scanned_serials:
            raise RuleViolation(f"{product.sku} is serial-tracked: scan each unit's serial")
        if qty is not None and qty != len(scanned_serials):
            raise RuleViolation(f"{product.sku}: one serial per unit ({qty_text(qty)} units, {len(scanned_serials)} serials)")
        units = Decimal(len(scanned_serials))
    else:
        if scanned_serials:
            raise RuleViolation(f"{product.sku} is not serial-tracked")
        units = (qty if qty is not None else Decimal(1)) * per_scan
        if units != units.to_integral_value() and product.uom in ("ea", "pcs", "unit"):
            raise BadInput(f"{product.sku} is counted in whole {product.uom}, not {qty_text(units)}")
    the_lot = _lot(session, product, entry.lot or scan.lot, entry.expiry or scan.expiry)
    line = batch.line(where, product, the_lot, create=count.status == "open")
    if count.status == "review":
        if line is None or line.status not in AWAITING:
            raise RuleViolation(f"{count.number} is submitted: only lines asked for a recount take counts")
        _may_recount(line, actor)
        line.status = "recounted"  # its counted_qty is still None on the recount's first scan
    elif line.status not in OPEN_LINE:
        raise RuleViolation(f"line {line.line_no} is {line.status}")
    else:
        line.status = "counted"
    if product.tracking == "serial":
        fresh_round = line.status == "recounted" and line.counted_qty is None
        already = set() if replace or fresh_round else set(line.counted_serials or ())
        twice = [s for s in scanned_serials if s in already]
        if twice or len(set(scanned_serials)) != len(scanned_serials):
            raise RuleViolation(f"serial {(twice or scanned_serials)[0]} of {product.sku} is already counted here")
        _serial_elsewhere(session, count, line, product, scanned_serials)
        line.counted_serials = sorted(already | set(scanned_serials))
        line.counted_qty = Decimal(len(line.counted_serials))
    else:
        line.counted_qty = units if replace or line.counted_qty is None else line.counted_qty + units
    _stamp(session, line, product, actor)
    if bin_row.status == "todo":
        bin_row.status = "counting"
    bin_row.counted_by = actor.username
    return RecordResult(count.number, line.line_no, where.code, product.sku, product.name,
                        the_lot.code if the_lot else None, units, line.counted_qty,
                        scanned_serials[-1] if scanned_serials else None)


def _serial_elsewhere(session: Session, count: StockCount, line: StockCountLine, product: Product, serials: list[str]) -> None:
    others = session.execute(
        select(StockCountLine.counted_serials, Location.code)
        .join(Location, Location.id == StockCountLine.location_id)
        .where(StockCountLine.count_id == count.id, StockCountLine.product_id == product.id, StockCountLine.id != line.id)
    ).all()
    for counted, where in others:
        for serial in serials:
            if serial in (counted or ()):
                raise RuleViolation(f"serial {serial} of {product.sku} was counted at {where} in this count")


def _close_bin(session: Session, actor: Actor, count: StockCount, location: Location, bin_row: StockCountBin,
               *, empty: bool) -> int:
    """Bin done: every line of the bin still uncounted - and every stocked balance there the count
    covers but nobody scanned - is counted zero at its own position.  ``empty`` zeroes them all."""
    reviewing = count.status == "review"
    lines = list(session.scalars(select(StockCountLine).where(
        StockCountLine.count_id == count.id, StockCountLine.location_id == location.id)))
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_({ln.product_id for ln in lines} or {0})))}
    if not reviewing:
        known = {(ln.product_id, ln.lot_key) for ln in lines}
        scope = None
        if count.kind != "locations":
            scope = set(session.scalars(select(StockCountLine.product_id).where(StockCountLine.count_id == count.id).distinct()))
        stocked = session.execute(select(Balance.product_id, Balance.lot_key, Balance.lot_id).where(
            Balance.location_id == location.id, Balance.on_hand > 0)).all()
        for product_id, lot_key, lot_id in stocked:
            if (product_id, lot_key) in known or (scope is not None and product_id not in scope):
                continue
            product = session.get(Product, product_id)
            products[product_id] = product
            lot = session.get(Lot, lot_id) if lot_id else None
            lines.append(_line(session, count, location, product, lot, create=True))
    zeroed = 0
    for line in lines:
        if reviewing:
            if line.status not in AWAITING:
                continue
            _may_recount(line, actor)
            if line.counted_qty is not None and line.status == "recounted" and not empty:
                continue
            line.status = "recounted"
        elif line.status not in OPEN_LINE:
            continue
        elif line.counted_qty is not None and not empty:
            continue
        else:
            line.status = "counted"
        line.counted_qty = Decimal(0)
        line.counted_serials = []
        _stamp(session, line, products[line.product_id], actor)
        zeroed += 1
    bin_row.status = "done"
    bin_row.counted_by = actor.username
    bin_row.done_at = dt.datetime.now(dt.timezone.utc)
    return zeroed


def bin_done(store: Store, actor: Actor, number: str, location: str, *, empty: bool = False) -> CountView:
    """Finish a bin (``empty``: the bin holds nothing).  Returns the counter's (blind) view."""
    check(store, actor, Permission.COUNT, number)

    def work(session: Session) -> CountView:
        count = _load(session, number, lock="update")
        if count.status not in ("open", "review"):
            raise RuleViolation(f"{count.number} is {count.status}: nothing more can be counted")
        where, bin_row = _bin(session, count, location)
        if count.status == "review" and not session.scalar(select(StockCountLine.id).where(
                StockCountLine.count_id == count.id, StockCountLine.location_id == where.id,
                StockCountLine.status.in_(AWAITING)).limit(1)):
            raise RuleViolation(f"{count.number} is submitted and nothing at {where.code} awaits a recount")
        zeroed = _close_bin(session, actor, count, where, bin_row, empty=empty)
        session.flush()
        audit.record(session, actor, "count.empty" if empty else "count.bin_done", count.number,
                     f"{where.code}: {zeroed} line(s) counted zero")
        changes.emit(session, "counts", count.number)
        return _view(session, count, blind=True)

    return store.transact(work)


def mark_empty(store: Store, actor: Actor, number: str, location: str) -> CountView:
    return bin_done(store, actor, number, location, empty=True)


# --- the counting flow's draft ---------------------------------------------------------------------

DRAFT_KIND = "count"
drafts.register_kind(DRAFT_KIND, Permission.COUNT, "count in progress")


def open_count_draft(store: Store, actor: Actor, number: str, payload: dict) -> drafts.Draft:
    """The counter's draft for count ``number`` (theirs if they left one, else a new one with
    ``payload``); refused when the count takes no more counting."""
    check(store, actor, Permission.COUNT, number)

    def work(session: Session) -> drafts.Draft:
        count = _load(session, number)
        if count.status not in ("open", "review"):
            raise RuleViolation(f"{count.number} is {count.status}: nothing more can be counted")
        existing = drafts.find_own(session, actor, DRAFT_KIND, count.number)
        if existing is not None:
            return existing
        return drafts.create(session, actor, DRAFT_KIND, count.number, {**payload, "number": count.number})

    return store.transact(work)


def resume_count_draft(store: Store, actor: Actor) -> drafts.Draft | None:
    """The counter's most recent count in progress, where they left it."""
    return drafts.resume(store, actor, DRAFT_KIND)


def close_count_draft(store: Store, actor: Actor, draft_id: int) -> None:
    """The counter finished (submitted, or left a count that is closed): the draft goes."""
    check(store, actor, Permission.COUNT, f"draft {draft_id}")
    store.transact(lambda session: drafts.close(session, DRAFT_KIND, draft_id))


# --- review and approval ------------------------------------------------------------------------


def _within(settings: StockSettings, line: StockCountLine) -> bool:
    variance = _variance(line) or Decimal(0)
    if variance == 0:
        return True
    value = abs(variance * (line.unit_cost or Decimal(0)))
    expected = line.expected_qty or Decimal(0)
    if expected == 0:
        return False
    percent = abs(variance) / expected * 100
    return percent <= settings.tolerance_pct and value <= settings.tolerance_value


def _current_cost(product: Product) -> Decimal:
    return product.average_cost or product.standard_cost or Decimal(0)


def _send_to_recount(line: StockCountLine) -> None:
    line.first_qty = line.counted_qty
    line.first_expected = line.expected_qty
    line.first_by = line.counted_by
    line.counted_qty = None  # the first count's serials stay on show until the recount starts
    line.round += 1
    line.status = "recount"


def submit(store: Store, actor: Actor, number: str) -> CountView:
    """The counter's work is done: variances are computed; lines within the tolerance approve
    themselves and post now, the others wait for a recount by someone else."""
    check(store, actor, Permission.COUNT, number)

    def work(session: Session) -> CountView:
        count = _load(session, number, lock="update")
        if count.status != "open":
            raise RuleViolation(f"{count.number} is {count.status}, not open")
        bins = session.execute(
            select(StockCountBin, Location).join(Location, Location.id == StockCountBin.location_id)
            .where(StockCountBin.count_id == count.id).order_by(StockCountBin.seq).with_for_update(of=StockCountBin)
        ).all()
        untouched = [loc.code for b, loc in bins if b.status == "todo"]
        if untouched:
            shown = ", ".join(untouched[:8]) + (f" ... {len(untouched) - 8} more" if len(untouched) > 8 else "")
            raise RuleViolation(f"{len(untouched)} bin(s) not counted yet: {shown} (count them or mark them empty)")
        for bin_row, location in bins:
            if bin_row.status == "counting":
                _close_bin(session, actor, count, location, bin_row, empty=False)
        session.flush()
        settings = read_settings(session)
        lines = list(session.scalars(select(StockCountLine).where(StockCountLine.count_id == count.id)
                                     .order_by(StockCountLine.line_no)))
        products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_({ln.product_id for ln in lines} or {0})))}
        auto: list[StockCountLine] = []
        for line in lines:
            if line.status == "open":  # a product-scoped line in a bin nobody counted: cannot happen once bins are done
                line.status = "dropped"
                continue
            line.unit_cost = _current_cost(products[line.product_id])
            if _within(settings, line):
                auto.append(line)
            else:
                _send_to_recount(line)
        count.status = "review"
        count.submitted_by = actor.username
        count.submitted_at = dt.datetime.now(dt.timezone.utc)
        problems, plans = _problems(session, count, auto, products)
        bad = {line_no for line_no, _ in problems}
        for line in auto:
            if line.line_no in bad:
                _send_to_recount(line)
        postable = [plan for plan in plans if plan.line.line_no not in bad]
        _post(session, actor, count, postable, approved_by="auto (within tolerance)")
        waiting = sum(1 for line in lines if line.status in AWAITING)
        if not waiting:
            count.status = "approved"
            count.approved_by = "auto (within tolerance)"
            count.approved_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        audit.record(session, actor, "count.submit", count.number,
                     f"{len(lines)} lines; {len(postable)} within tolerance posted; {waiting} to recount")
        changes.emit(session, "counts", count.number)
        return _view(session, count, blind=True)

    return store.transact(work)


def request_recount(store: Store, actor: Actor, number: str, line_nos: Sequence[int]) -> CountView:
    """A manager asks for lines to be counted again (by someone other than their last counter)."""
    if not line_nos:
        raise BadInput("name the lines to recount (--line N ...)")
    check(store, actor, Permission.APPROVE_COUNT, number)

    def work(session: Session) -> CountView:
        count = _load(session, number, lock="update")
        if count.status != "review":
            raise RuleViolation(f"{count.number} is {count.status}: recounts are asked for during review")
        lines = _lines_by_no(session, count, line_nos)
        problems = [f"line {ln.line_no} is {ln.status}" for ln in lines if ln.status != "recounted" and ln.status != "recount"]
        if problems:
            raise RuleViolation(f"{count.number}: " + "; ".join(problems))
        for line in lines:
            if line.status == "recounted":
                _send_to_recount(line)
        session.flush()
        audit.record(session, actor, "count.recount", count.number, "lines " + ", ".join(str(n) for n in sorted(line_nos)))
        changes.emit(session, "counts", count.number)
        return _view(session, count, blind=False)

    return store.transact(work)


def _lines_by_no(session: Session, count: StockCount, line_nos: Iterable[int]) -> list[StockCountLine]:
    wanted = sorted(set(line_nos))
    lines = list(session.scalars(select(StockCountLine).where(
        StockCountLine.count_id == count.id, StockCountLine.line_no.in_(wanted)).order_by(StockCountLine.line_no)))
    missing = sorted(set(wanted) - {line.line_no for line in lines})
    if missing:
        raise NotFound(f"{count.number} has no line {', '.join(str(n) for n in missing)}")
    return lines


def approve(store: Store, actor: Actor, number: str, line_nos: Sequence[int] = ()) -> ApproveResult:
    """Post the recounted lines (all of them, or ``line_nos``) in one posting, reason "count".

    Every line is checked first - still waiting for a recount, recounted by its first counter,
    a loss the bin no longer holds, a product or bin made inactive - and all problems are
    reported together; nothing posts unless every line can.
    """
    check(store, actor, Permission.APPROVE_COUNT, number)

    def work(session: Session) -> ApproveResult:
        count = _load(session, number, lock="update")
        if count.status != "review":
            raise RuleViolation(f"{count.number} is {count.status}: only a submitted count is approved")
        lines = _line_rows(session, count, line_nos)
        if not lines:
            raise RuleViolation(f"{count.number} has no line to approve")
        products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_({ln.product_id for ln in lines})))}
        problems: list[tuple[int, str]] = []
        for line in lines:
            if line.status == "recount":
                problems.append((line.line_no, f"waiting for a recount by someone other than {line.first_by}"))
            elif line.status != "recounted":
                problems.append((line.line_no, f"is {line.status}"))
            elif line.counted_by == line.first_by:
                problems.append((line.line_no, f"was recounted by its first counter {line.first_by}"))
        for line in lines:  # written with the posted status in one statement (see _post)
            line.unit_cost = _current_cost(products[line.product_id])
        found, plans = _problems(session, count, [ln for ln in lines if ln.status == "recounted"], products)
        problems += found
        if problems:
            raise CountProblems(count.number, _describe(session, count, problems))
        posting_id, gains, losses, value = _post(session, actor, count, plans, approved_by=actor.username)
        if not session.scalar(select(StockCountLine.id).where(
                StockCountLine.count_id == count.id, StockCountLine.status.in_(AWAITING)).limit(1)):
            count.status = "approved"
            count.approved_by = actor.username
            count.approved_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        audit.record(session, actor, "count.approve", count.number,
                     f"{len(lines)} lines; +{qty_text(gains)} -{qty_text(losses)}; value {money_text(value)}")
        changes.emit(session, "counts", count.number)
        return ApproveResult(count.number, count.status, len(lines), posting_id, gains, losses, value)

    return store.transact(work)


def _line_rows(session: Session, count: StockCount, line_nos: Sequence[int] = ()) -> list[SimpleNamespace]:
    """The lines to approve as plain rows (``line_nos``, else every one awaiting approval):
    a 5,000-line approval neither builds nor flushes 5,000 ORM objects."""
    table = StockCountLine.__table__
    query = select(table).where(table.c.count_id == count.id).order_by(table.c.line_no)
    if line_nos:
        wanted = sorted(set(line_nos))
        rows = [SimpleNamespace(**row._mapping) for row in session.execute(query.where(table.c.line_no.in_(wanted)))]
        missing = sorted(set(wanted) - {row.line_no for row in rows})
        if missing:
            raise NotFound(f"{count.number} has no line {', '.join(str(n) for n in missing)}")
        return rows
    return [SimpleNamespace(**row._mapping) for row in session.execute(query.where(table.c.status.in_(AWAITING)))]


def _describe(session: Session, count: StockCount, problems: list[tuple[int, str]]) -> list[str]:
    rows = dict(
        (no, (loc, sku)) for no, loc, sku in session.execute(
            select(StockCountLine.line_no, Location.code, Product.sku)
            .join(Location, Location.id == StockCountLine.location_id)
            .join(Product, Product.id == StockCountLine.product_id)
            .where(StockCountLine.count_id == count.id, StockCountLine.line_no.in_({no for no, _ in problems}))
        )
    )
    return [f"line {no} ({rows[no][1]} at {rows[no][0]}): {text}" for no, text in sorted(problems)]


@dataclass
class _Plan:
    line: StockCountLine
    moves: list[StockMove]
    gain: Decimal
    loss: Decimal


def _plan(session: Session, lines: list[StockCountLine], products: dict[int, Product]
          ) -> tuple[list[_Plan], list[tuple[int, str]], dict[tuple[int, int, int], Decimal]]:
    """The moves each line needs, the problems found, and the losses per balance."""
    locations = dict(session.execute(select(Location.id, Location.code).where(
        Location.id.in_({ln.location_id for ln in lines} or {0}))).all())
    location_rows = {loc.id: loc for loc in session.scalars(select(Location).where(Location.id.in_(set(locations) or {0})))}
    lot_ids = {ln.lot_id for ln in lines if ln.lot_id}
    lots = dict(session.execute(select(Lot.id, Lot.code).where(Lot.id.in_(lot_ids or {0}))).all())
    plans, problems = [], []
    losses: dict[tuple[int, int, int], Decimal] = {}
    serial_products = [ln for ln in lines if products[ln.product_id].tracking == "serial"]
    serial_places: dict[tuple[int, str], tuple[int | None, int | None]] = {}
    for pid in {ln.product_id for ln in serial_products}:
        wanted = sorted({s for ln in serial_products if ln.product_id == pid
                         for s in (*(ln.counted_serials or ()), *(ln.expected_serials or ()))})
        for serial, location_id, lot_id in session.execute(
            select(SerialNumber.serial, SerialNumber.location_id, SerialNumber.lot_id)
            .where(SerialNumber.product_id == pid, SerialNumber.serial.in_(wanted or [""]))
        ):
            serial_places[(pid, serial)] = (location_id, lot_id)
    all_codes = dict(session.execute(select(Location.id, Location.code)).all()) if serial_products else locations
    for line in lines:
        product = products[line.product_id]
        code = locations[line.location_id]
        where = location_rows[line.location_id]
        lot = lots.get(line.lot_id) if line.lot_id else None
        if not product.active:
            problems.append((line.line_no, f"product {product.sku} is inactive"))
            continue
        if not where.active or where.kind != "internal":
            problems.append((line.line_no, f"bin {code} is inactive"))
            continue
        variance = _variance(line)
        if variance is None:
            problems.append((line.line_no, "not counted"))
            continue
        moves: list[StockMove] = []
        gain = loss = Decimal(0)
        if product.tracking == "serial":
            counted, expected = set(line.counted_serials or ()), set(line.expected_serials or ())
            gone = sorted(s for s in expected - counted if serial_places.get((product.id, s), (None,))[0] == line.location_id)
            if gone:
                moves.append(StockMove(product.sku, Decimal(len(gone)), code, ADJUSTMENT, lot, None, tuple(gone), reference=f"line {line.line_no}"))
                loss += len(gone)
                key = (product.id, line.location_id, line.lot_key)
                losses[key] = losses.get(key, Decimal(0)) + len(gone)
            found = sorted(counted - expected)
            fresh = [s for s in found if serial_places.get((product.id, s), (None,))[0] is None]
            if fresh:
                moves.append(StockMove(product.sku, Decimal(len(fresh)), ADJUSTMENT, code, lot, None, tuple(fresh),
                                       unit_cost=line.unit_cost, reference=f"line {line.line_no}"))
                gain += len(fresh)
            for serial in found:
                place, lot_id = serial_places.get((product.id, serial), (None, None))
                if place is not None and place != line.location_id:
                    moves.append(StockMove(product.sku, Decimal(1), all_codes[place], code, lots.get(lot_id) if lot_id else None,
                                           None, (serial,), reference=f"line {line.line_no}: found here"))
                    key = (product.id, place, lot_id or 0)
                    losses[key] = losses.get(key, Decimal(0)) + 1
        elif variance > 0:
            moves.append(StockMove(product.sku, variance, ADJUSTMENT, code, lot, None, (), unit_cost=line.unit_cost,
                                   reference=f"line {line.line_no}"))
            gain = variance
        elif variance < 0:
            moves.append(StockMove(product.sku, -variance, code, ADJUSTMENT, lot, reference=f"line {line.line_no}"))
            loss = -variance
            key = (product.id, line.location_id, line.lot_key)
            losses[key] = losses.get(key, Decimal(0)) - variance
        plans.append(_Plan(line, moves, gain, loss))
    return plans, problems, losses


def _problems(session: Session, count: StockCount, lines: list[StockCountLine], products: dict[int, Product]
              ) -> tuple[list[tuple[int, str]], list[_Plan]]:
    """Everything that would stop these lines posting, found under the balances' row locks
    (taken in the ledger's order, so approving never deadlocks a posting station), and the plans."""
    plans, problems, losses = _plan(session, lines, products)
    if losses:
        available = _locked_available(session, sorted(losses))
        for plan in plans:
            line = plan.line
            key = (line.product_id, line.location_id, line.lot_key)
            if plan.loss and key in losses and available.get(key, Decimal(0)) < losses[key]:
                have = available.get(key, Decimal(0))
                problems.append((line.line_no, f"the count takes {qty_text(plan.loss)} but only {qty_text(have)} is "
                                                f"unreserved there now (stock moved since the count): recount it"))
    return problems, plans


def _locked_available(session: Session, keys: list[tuple[int, int, int]]) -> dict[tuple[int, int, int], Decimal]:
    products = sorted({k[0] for k in keys})
    found: dict[tuple[int, int, int], Decimal] = {}
    wanted = set(keys)
    for chunk in range(0, len(products), 500):
        rows = session.execute(
            select(Balance.product_id, Balance.location_id, Balance.lot_key, Balance.on_hand - Balance.reserved)
            .where(Balance.product_id.in_(products[chunk:chunk + 500]))
            .order_by(Balance.product_id, Balance.location_id, Balance.lot_key)
            .with_for_update()
        ).all()
        for pid, lid, lot_key, available in rows:
            if (pid, lid, lot_key) in wanted:
                found[(pid, lid, lot_key)] = available
    return found


_MARK_POSTED = (
    update(StockCountLine.__table__)
    .where(StockCountLine.__table__.c.id == bindparam("line_id"))
    .values(status=bindparam("status"), approved_by=bindparam("approved_by"), posting_id=bindparam("posting_id"),
            unit_cost=bindparam("unit_cost", type_=StockCountLine.__table__.c.unit_cost.type))
)


_CLOSE_RECOUNT = (
    update(RecountRequest)
    .where(RecountRequest.location_id == bindparam("location"), RecountRequest.product_id == bindparam("product"),
           RecountRequest.done_at.is_(None))
    .values(done_at=bindparam("now"))
)


def _close_recount_requests(session: Session, counted: set[tuple[int, int]]) -> None:
    """A bin's posted count answers the short picks that doubted it: the bin is allocated from again."""
    if counted:
        now = utcnow()
        session.connection().execute(
            _CLOSE_RECOUNT, [{"location": location, "product": product, "now": now} for location, product in counted]
        )


def _post(session: Session, actor: Actor, count: StockCount, plans: list[_Plan], *, approved_by: str
          ) -> tuple[int | None, Decimal, Decimal, Decimal]:
    """One ledger posting for the planned lines (already checked); marks them posted."""
    if not plans:
        return None, Decimal(0), Decimal(0), Decimal(0)
    lines = [plan.line for plan in plans]
    moves = [move for plan in plans for move in plan.moves]
    posting_id = None
    if moves:
        digest = hashlib.sha256(",".join(f"{ln.id}:{ln.round}" for ln in lines).encode()).hexdigest()[:32]
        result = ledger.post(session, actor, "count", moves, key=f"count:{count.number}:{digest}", reason="count",
                             reference=count.number)
        posting_id = result.posting_id
        if result.already_posted:
            raise RuleViolation(f"{count.number}: these lines were already posted")
    value = Decimal(0)
    rows = []
    for plan in plans:
        line = plan.line
        done = {"status": "posted", "approved_by": approved_by, "posting_id": posting_id if plan.moves else None}
        rows.append({"line_id": line.id, "unit_cost": line.unit_cost, **done})
        for name, new in done.items():  # the rows are written below in one executemany, not by the ORM's flush
            if isinstance(line, StockCountLine):
                set_committed_value(line, name, new)
            else:
                setattr(line, name, new)
        value += (_variance(line) or Decimal(0)) * (line.unit_cost or Decimal(0))
    session.connection().execute(_MARK_POSTED, rows)
    _close_recount_requests(session, {(plan.line.location_id, plan.line.product_id) for plan in plans})
    gains = sum((plan.gain for plan in plans), Decimal(0))
    losses = sum((plan.loss for plan in plans), Decimal(0))
    return posting_id, gains, losses, value.quantize(Decimal("0.01"))
