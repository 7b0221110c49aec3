"""Receivers racing on one PO line on PostgreSQL: real processes, each with its own store.

The line orders 30; six receivers each try to receive 2 units five times (60 in all).  The PO
must end with exactly what was posted - never more than ordered - and ``ims check`` clean.
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.engine import Store
from ims_tui.db.models import Movement
from ims_tui.services import purchasing, receiving
from ims_tui.services.actor import Actor
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from tests.conftest import open_store
from tests.test_purchasing_service import MANAGER, setup_catalogue

PROCESSES = 6
ATTEMPTS = 5
ORDERED = 30


def _receive(url: str, number: str, worker: int, barrier, results) -> None:
    store = Store(url)
    actor = Actor(f"receiver-{worker}", "receiver", f"desk-{worker}")
    accepted = refused = 0
    barrier.wait()
    for attempt in range(ATTEMPTS):
        try:
            result = receiving.receive_po(store, actor, number, "PLAIN", Decimal(2), to="A-01", key=f"w{worker}-{attempt}")
            accepted += 0 if result.already_posted else 2
        except RuleViolation:
            refused += 1
    # everyone also retries one shared delivery: it posts once
    shared = receiving.receive_po(store, actor, number, "MILK", Decimal(5), to="A-02", lot="L1", key="shared-delivery")
    store.dispose()
    results.put((accepted, refused, shared.already_posted))


@pytest.mark.slow
@pytest.mark.postgres
def test_racing_receivers_never_record_more_than_posted(pg_url):
    store = open_store(pg_url)
    setup_catalogue(store)
    number = purchasing.create_po(store, MANAGER, "Acme Supplies",
                                  [purchasing.LineInput("PLAIN", Decimal(ORDERED)), purchasing.LineInput("MILK", Decimal(5))]).number
    purchasing.order_po(store, MANAGER, number)

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=_receive, args=(pg_url, number, i, barrier, results)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    accepted = sum(outcome[0] for outcome in outcomes)
    assert accepted == ORDERED  # demand (60) exceeded the order: exactly the order was accepted
    assert sum(outcome[1] for outcome in outcomes) == (PROCESSES * ATTEMPTS * 2 - ORDERED) // 2
    assert sorted(outcome[2] for outcome in outcomes) == [False] + [True] * (PROCESSES - 1)
    view = purchasing.get_po(store, MANAGER, number)
    with store.read() as session:
        posted = session.scalar(select(func.sum(Movement.qty)).where(Movement.reference == f"{number}/1"))
    assert view.lines[0].qty_received == posted == Decimal(ORDERED)
    assert view.lines[1].qty_received == Decimal(5)
    assert view.status == "received"
    report = run_check(store)
    assert report.clean, report.violations
    store.dispose()
