"""A Hypothesis state machine drives receive/issue/move/adjust against a simple model.

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

from ims_tui.services import stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from tests.conftest import make_locations, make_product, open_store

LOCATIONS = ("M-A", "M-B")
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
            ok = self.qty[key] >= qty
            self._attempt(ok, lambda: stock.issue(store, ACTOR, self.plain, qty, source=source))
            if ok:
                self.qty[key] -= qty

        @rule(qty=quantities, source=locations, lot=st.sampled_from(LOTS))
        def issue_lot(self, qty, source, lot):
            key = (self.lotted, source, lot)
            ok = self.qty[key] >= qty
            self._attempt(ok, lambda: stock.issue(store, ACTOR, self.lotted, qty, source=source, lot=lot))
            if ok:
                self.qty[key] -= qty

        @rule(qty=quantities, source=locations, lot=st.sampled_from((None, *LOTS)))
        def move_between_bins(self, qty, source, lot):
            sku = self.lotted if lot else self.plain
            target = LOCATIONS[1 - LOCATIONS.index(source)]
            key = (sku, source, lot)
            ok = self.qty[key] >= qty
            self._attempt(ok, lambda: stock.move(store, ACTOR, sku, qty, source=source, to=target, lot=lot))
            if ok:
                self.qty[key] -= qty
                self.qty[(sku, target, lot)] += qty

        @rule(data=st.data(), source=locations)
        def move_or_issue_serial(self, data, source):
            if not self.serial_at:
                return
            serial = data.draw(st.sampled_from(sorted(self.serial_at)))
            ok = self.serial_at[serial] == source
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
            stock.adjust(store, ACTOR, self.plain, at=at, set_to=counted, reason="count")
            self.qty[key] = counted

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

    return LedgerMachine


@pytest.mark.slow
def test_ledger_state_machine(store_url):
    store = open_store(store_url)
    make_locations(store, *LOCATIONS)
    machine = machine_for(store)
    machine.TestCase.settings = settings(
        max_examples=15, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    try:
        machine.TestCase().runTest()
    finally:
        store.dispose()
