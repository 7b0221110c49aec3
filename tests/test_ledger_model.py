"""A Hypothesis state machine drives receive/issue/move/adjust - and sales orders: confirm,
cancel, pick, short pick, ship and return - against a simple model.

After every step the store must agree with the model and pass the same invariants as
``ims check``.  Each example uses fresh SKUs in one store, so the schema is built once.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from ims_tui.db.models import Product, SerialNumber

from ims_tui.services import picking, reservations, sales, stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from tests.conftest import make_locations, make_product, open_store
from tests.sales_support import set_usage

LOCATIONS = ("M-A", "M-B")
PACKING = "M-PACK"
LOTS = ("L1", "L2")
ACTOR = Actor("model", "admin", "model-station")
_examples = itertools.count()

quantities = st.integers(min_value=1, max_value=6).map(Decimal)
locations = st.sampled_from(LOCATIONS)


def machine_for(store):
    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            n = next(_examples)
            self.plain, self.lotted, self.serial = f"P{n}", f"L{n}", f"S{n}"
            make_product(store, self.plain)
            make_product(store, self.lotted, tracking="lot")
            make_product(store, self.serial, tracking="serial")
            self.qty: dict[tuple[str, str, str | None], Decimal] = defaultdict(Decimal)
            self.serial_at: dict[str, str | None] = {}
            self.next_serial = itertools.count()
            self.customer = f"Cust{n}"
            sales.add_customer(store, ACTOR, self.customer)
            self.orders: list[str] = []

        def _available(self, sku: str, location: str, lot: str | None) -> Decimal:
            """On hand in the model less what the store holds for orders there."""
            reserved = {(row.location, row.lot): row.reserved for row in product_detail(store, ACTOR, sku, movements=0).stock}
            return self.qty[(sku, location, lot)] - reserved.get((location, lot), Decimal(0))

        def _attempt(self, expect_ok: bool, call) -> None:
            if expect_ok:
                call()
            else:
                with pytest.raises(RuleViolation):
                    call()

        @rule(qty=quantities, to=locations)
        def receive_plain(self, qty, to):
            stock.receive(store, ACTOR, self.plain, qty, to=to)
            self.qty[(self.plain, to, None)] += qty

        @rule(qty=quantities, to=locations, lot=st.sampled_from(LOTS))
        def receive_lot(self, qty, to, lot):
            stock.receive(store, ACTOR, self.lotted, qty, to=to, lot=lot)
            self.qty[(self.lotted, to, lot)] += qty

        @rule(count=st.integers(1, 3), to=locations)
        def receive_serials(self, count, to):
            serials = tuple(f"{self.serial}-{next(self.next_serial)}" for _ in range(count))
            stock.receive(store, ACTOR, self.serial, Decimal(count), to=to, serials=serials)
            for serial in serials:
                self.serial_at[serial] = to

        @rule(qty=quantities, source=locations)
        def issue_plain(self, qty, source):
            key = (self.plain, source, None)
            ok = self._available(*key) >= qty
            self._attempt(ok, lambda: stock.issue(store, ACTOR, self.plain, qty, source=source))
            if ok:
                self.qty[key] -= qty

        @rule(qty=quantities, source=locations, lot=st.sampled_from(LOTS))
        def issue_lot(self, qty, source, lot):
            key = (self.lotted, source, lot)
            ok = self._available(*key) >= qty
            self._attempt(ok, lambda: stock.issue(store, ACTOR, self.lotted, qty, source=source, lot=lot))
            if ok:
                self.qty[key] -= qty

        @rule(qty=quantities, source=locations, lot=st.sampled_from((None, *LOTS)))
        def move_between_bins(self, qty, source, lot):
            sku = self.lotted if lot else self.plain
            target = LOCATIONS[1 - LOCATIONS.index(source)]
            key = (sku, source, lot)
            ok = self._available(*key) >= qty
            self._attempt(ok, lambda: stock.move(store, ACTOR, sku, qty, source=source, to=target, lot=lot))
            if ok:
                self.qty[key] -= qty
                self.qty[(sku, target, lot)] += qty

        @rule(data=st.data(), source=locations)
        def move_or_issue_serial(self, data, source):
            if not self.serial_at:
                return
            serial = data.draw(st.sampled_from(sorted(self.serial_at)))
            ok = self.serial_at[serial] == source and self._serials_available(source) >= 1
            if data.draw(st.booleans()):
                target = LOCATIONS[1 - LOCATIONS.index(source)]
                self._attempt(ok, lambda: stock.move(store, ACTOR, self.serial, Decimal(1), source=source, to=target, serials=(serial,)))
                if ok:
                    self.serial_at[serial] = target
            else:
                self._attempt(ok, lambda: stock.issue(store, ACTOR, self.serial, Decimal(1), source=source, serials=(serial,)))
                if ok:
                    self.serial_at[serial] = None

        @rule(at=locations, counted=st.integers(0, 12).map(Decimal))
        def adjust_plain_to_count(self, at, counted):
            key = (self.plain, at, None)
            if self.qty[key] == counted:
                with pytest.raises(RuleViolation, match="nothing to adjust"):
                    stock.adjust(store, ACTOR, self.plain, at=at, set_to=counted, reason="count")
                return
            ok = counted >= self.qty[key] or self.qty[key] - counted <= self._available(*key)
            self._attempt(ok, lambda: stock.adjust(store, ACTOR, self.plain, at=at, set_to=counted, reason="count"))
            if ok:
                self.qty[key] = counted

        def _serials_available(self, location: str) -> Decimal:
            reserved = sum((row.reserved for row in product_detail(store, ACTOR, self.serial, movements=0).stock
                            if row.location == location), Decimal(0))
            return sum(1 for at in self.serial_at.values() if at == location) - reserved

        # --- sales orders ------------------------------------------------------------------

        def _open_order(self, data):
            if not self.orders:
                return None
            return data.draw(st.sampled_from(self.orders))

        @rule(kind=st.sampled_from(("plain", "lot", "serial")), qty=st.integers(1, 4).map(Decimal))
        def confirm_order(self, kind, qty):
            sku = {"plain": self.plain, "lot": self.lotted, "serial": self.serial}[kind]
            view = sales.create_so(store, ACTOR, self.customer, [sales.SOLineInput(sku, qty)])
            result = sales.confirm_so(store, ACTOR, view.number)
            assert result.reserved + result.waiting == qty
            self.orders.append(view.number)

        @rule(data=st.data())
        def cancel_order(self, data):
            number = self._open_order(data)
            if number is None:
                return
            status = sales.get_so(store, ACTOR, number).status
            if status not in ("confirmed", "picking", "partial"):
                with pytest.raises(RuleViolation):
                    sales.cancel_so(store, ACTOR, number)
                return
            sales.cancel_so(store, ACTOR, number)
            assert not sales.get_so(store, ACTOR, number).allocations

        def _pick_list(self, number):
            try:
                return picking.create_pick(store, ACTOR, [number])
            except RuleViolation:  # nothing reserved off a pick list, or the order is no longer open
                return None

        @rule(data=st.data())
        def pick_order(self, data):
            number = self._open_order(data)
            pick = self._pick_list(number) if number else None
            if pick is None:
                return
            for line in pick.lines:
                serials = line.serials[: int(line.qty)] if line.tracking == "serial" else ()
                picking.confirm_pick(store, ACTOR, pick.number, line.line_no, line.qty, source=line.location,
                                     lot=line.lot, serials=serials)
                self.qty[(line.sku, line.location, line.lot)] -= line.qty
                self.qty[(line.sku, PACKING, line.lot)] += line.qty
                for serial in serials:
                    self.serial_at[serial] = PACKING

        @rule(data=st.data())
        def short_pick_first_line(self, data):
            number = self._open_order(data)
            pick = self._pick_list(number) if number else None
            if pick is None:
                return
            before = sales.get_so(store, ACTOR, number)
            result = picking.short_pick(store, ACTOR, pick.number, pick.lines[0].line_no)
            after = sales.get_so(store, ACTOR, number)
            assert result.rerouted_qty + result.backordered == result.short_qty
            assert after.waiting - before.waiting == result.backordered

        @rule(data=st.data())
        def ship_order(self, data):
            number = self._open_order(data)
            if number is None:
                return
            view = sales.get_so(store, ACTOR, number)
            packed = [a for a in view.allocations if a.stage == "picked"]
            if not packed or view.status not in reservations.OPEN_STATUSES:
                with pytest.raises(RuleViolation):
                    picking.ship_so(store, ACTOR, number)
                return
            result = picking.ship_so(store, ACTOR, number)
            assert result.qty == sum((a.qty for a in packed), Decimal(0))
            sku = view.lines[0].sku
            for a in packed:
                self.qty[(sku, a.location, a.lot)] -= a.qty
            if sku == self.serial:  # which serials left: the ones no longer in stock anywhere
                with store.read() as session:
                    gone = set(session.scalars(select(SerialNumber.serial).where(SerialNumber.location_id.is_(None))))
                for serial, at in self.serial_at.items():
                    if at == PACKING and serial in gone:
                        self.serial_at[serial] = None

        @rule(data=st.data())
        def return_one(self, data):
            number = self._open_order(data)
            if number is None:
                return
            line = sales.get_so(store, ACTOR, number).lines[0]
            if line.sku != self.plain:
                return
            ok = line.qty_shipped - line.qty_returned >= 1
            self._attempt(ok, lambda: picking.return_from_customer(store, ACTOR, number, self.plain, Decimal(1),
                                                                   to=LOCATIONS[0], reason="model return"))
            if ok:
                self.qty[(self.plain, LOCATIONS[0], None)] += 1

        @invariant()
        def store_matches_model(self):
            if not hasattr(self, "plain"):
                return
            for sku in (self.plain, self.lotted):
                detail = product_detail(store, ACTOR, sku, movements=0)
                actual = {(row.location, row.lot): row.on_hand for row in detail.stock}
                expected = {(loc, lot): q for (s, loc, lot), q in self.qty.items() if s == sku and q > 0}
                assert actual == expected
            serial_detail = product_detail(store, ACTOR, self.serial, movements=0)
            assert serial_detail.serials_in_stock == sum(1 for at in self.serial_at.values() if at)

        @invariant()
        def check_is_clean(self):
            report = run_check(store)
            assert report.clean, report.violations

        @invariant()
        def nothing_waits_while_stock_is_free(self):
            if not hasattr(self, "plain"):
                return
            with store.read() as session:
                for sku in (self.plain, self.lotted, self.serial):
                    product_id = session.scalar(select(Product.id).where(Product.sku == sku))
                    if reservations.waiting_lines(session, [product_id]):
                        assert reservations.candidates(session, product_id) == []

    return LedgerMachine


@pytest.mark.slow
def test_ledger_state_machine(store_url):
    store = open_store(store_url)
    make_locations(store, *LOCATIONS, PACKING)
    set_usage(store, PACKING, "packing")
    machine = machine_for(store)
    machine.TestCase.settings = settings(
        max_examples=15, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    try:
        machine.TestCase().runTest()
    finally:
        store.dispose()
