"""Scrap: stock written off to the Scrap location with a reason code and its value.

Scrap worth more than the ``scrap.approval_value`` setting needs a manager's approval (the
value is what the ledger takes off the cost layers, so it is exact, and the posting rolls back
when the approval is missing).  The expired-lot sweep lists every expired lot still in a bin and
scraps the chosen ones in one posting a manager approves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Balance, Location, Lot, Movement, Product
from ims_tui.services import audit, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, RuleViolation
from ims_tui.services.ledger import StockMove
from ims_tui.services.permissions import Permission, check
from ims_tui.services.purchasing import money_text, qty_text
from ims_tui.services.scans import resolve_product_in
from ims_tui.services.stock_settings import read_settings

REASONS = ("damaged", "expired", "lost", "sample")
SCRAP = "SCRAP"


@dataclass(frozen=True)
class ScrapResult:
    posting_id: int
    key: str
    already_posted: bool
    reason: str
    qty: Decimal
    value: Decimal
    approved_by: str | None

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.already_posted:
            return f"already posted (key {self.key}): nothing changed"
        approval = f", approved by {self.approved_by}" if self.approved_by else ""
        return f"scrapped {qty_text(self.qty)} ({self.reason}), value {money_text(self.value)}{approval} (posting {self.posting_id})"


def _reason(reason: str) -> str:
    code = reason.strip().lower()
    if code not in REASONS:
        raise BadInput(f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
    return code


def _posted_value(session: Session, posting_id: int) -> Decimal:
    rows = session.execute(select(Movement.qty, Movement.unit_cost).where(Movement.posting_id == posting_id)).all()
    return sum((qty * cost for qty, cost in rows), Decimal(0)).quantize(Decimal("0.01"))


def _require_approval(session: Session, value: Decimal, approved_by: str | None) -> None:
    limit = read_settings(session).scrap_approval_value
    if value > limit and not approved_by:
        raise RuleViolation(f"scrap worth {money_text(value)} is above {money_text(limit)}: a manager must approve it")


def scrap(
    store: Store,
    actor: Actor,
    code: str,
    qty: Decimal | None,
    *,
    source: str,
    reason: str,
    lot: str | None = None,
    serials: Sequence[str] = (),
    note: str = "",
    approved_by: str | None = None,
    key: str | None = None,
) -> ScrapResult:
    """Write off ``qty`` of ``code`` (any scan; a case counts its pack) from ``source``.

    ``approved_by`` names the manager who approved it (the CLI's ``--approve`` by a manager,
    or a manager's badge and PIN on a screen); needed only above the value setting.
    """
    code_reason = _reason(reason)
    check(store, actor, Permission.MOVE, code)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> ScrapResult:
        scan = resolve_product_in(session, code)
        given = tuple(s.strip() for s in (*serials, *([scan.serial] if scan.serial else [])) if s and s.strip())
        units = Decimal(len(given)) if given and qty is None else (qty or Decimal(1)) * scan.pack_qty * (scan.quantity or Decimal(1))
        move = StockMove(scan.sku, units, source, SCRAP, lot or scan.lot, None, given, reference=note.strip())
        result = ledger.post(session, actor, "scrap", [move], key=posting_key, reason=code_reason, reference=note.strip())
        if result.already_posted:
            return ScrapResult(result.posting_id, posting_key, True, code_reason, units, Decimal(0), approved_by)
        value = _posted_value(session, result.posting_id)
        _require_approval(session, value, approved_by)
        audit.record(session, actor, "scrap", scan.sku,
                     f"{qty_text(units)} from {source} ({code_reason}), value {money_text(value)}"
                     + (f", approved by {approved_by}" if approved_by else ""))
        return ScrapResult(result.posting_id, posting_key, False, code_reason, units, value, approved_by)

    return store.transact(work)


# --- the expired-lot sweep ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiredLot:
    sku: str
    name: str
    lot: str
    expiry: dt.date
    location: str
    on_hand: Decimal
    reserved: Decimal
    value: Decimal
    """Estimated at the product's average cost; the posting takes the exact layer cost."""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def choice(self) -> str:
        return f"{self.sku}:{self.lot}@{self.location}"


def expired_lots(store: Store, actor: Actor, *, as_of: dt.date | None = None) -> list[ExpiredLot]:
    """Every lot past its expiry with stock in a bin, oldest expiry first."""
    check(store, actor, Permission.LOOKUP, "expired lots")
    as_of = as_of or dt.date.today()
    with store.read() as session:
        rows = session.execute(
            select(Product.sku, Product.name, Lot.code, Lot.expiry, Location.code, Balance.on_hand, Balance.reserved,
                   Product.average_cost, Product.standard_cost)
            .join(Lot, Lot.id == Balance.lot_id)
            .join(Product, Product.id == Balance.product_id)
            .join(Location, Location.id == Balance.location_id)
            .where(Lot.expiry < as_of, Balance.on_hand > 0, Location.kind == "internal")
            .order_by(Lot.expiry, Product.sku, Lot.code, Location.code)
        ).all()
    return [
        ExpiredLot(sku, name, lot, expiry, location, on_hand, reserved,
                   (on_hand * (average or standard or Decimal(0))).quantize(Decimal("0.01")))
        for sku, name, lot, expiry, location, on_hand, reserved, average, standard in rows
    ]


def parse_choice(text: str) -> tuple[str, str, str]:
    """``SKU:LOT@LOC`` as the sweep lists it."""
    head, at, location = text.rpartition("@")
    sku, colon, lot = head.partition(":")
    if not at or not colon or not sku.strip() or not lot.strip() or not location.strip():
        raise BadInput(f"choose an expired lot as SKU:LOT@LOC, not {text!r}")
    return sku.strip(), lot.strip(), location.strip()


def scrap_expired(
    store: Store, actor: Actor, choices: Sequence[tuple[str, str, str]] | None = None, *,
    as_of: dt.date | None = None, key: str | None = None,
) -> ScrapResult:
    """Scrap the chosen expired lots (all of them when ``choices`` is None) in one posting, the
    acting manager's approval.  Every problem (not expired, reserved, gone) is listed at once."""
    check(store, actor, Permission.ADJUST, "expired lots")
    listed = {row.choice: row for row in expired_lots(store, actor, as_of=as_of)}
    wanted = list(listed) if choices is None else [f"{s}:{lot}@{loc}" for s, lot, loc in choices]
    if not wanted:
        raise RuleViolation("no expired lots to scrap")
    problems = []
    moves = []
    for choice in dict.fromkeys(wanted):
        row = listed.get(choice)
        if row is None:
            problems.append(f"{choice}: not an expired lot in stock there")
        elif row.reserved:
            problems.append(f"{choice}: {qty_text(row.reserved)} reserved; release it first")
        else:
            moves.append(StockMove(row.sku, row.on_hand, row.location, SCRAP, row.lot, reference=f"expired {row.expiry}"))
    if problems:
        raise RuleViolation(f"{len(problems)} problem(s), nothing scrapped: " + "; ".join(problems))
    posting_key = key or ledger.new_key()

    def work(session: Session) -> ScrapResult:
        result = ledger.post(session, actor, "scrap", moves, key=posting_key, reason="expired", reference="expired-lot sweep")
        value = _posted_value(session, result.posting_id) if not result.already_posted else Decimal(0)
        audit.record(session, actor, "scrap.expired", "expired-lot sweep",
                     f"{len(moves)} lot(s) in bins, value {money_text(value)}, approved by {actor.username}")
        return ScrapResult(result.posting_id, posting_key, result.already_posted, "expired",
                           sum((m.qty for m in moves), Decimal(0)), value, actor.username)

    return store.transact(work)
