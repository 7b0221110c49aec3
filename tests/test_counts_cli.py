"""``ims count ...``: blind for counters, the manager's review, all problems at once, exit codes."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from ims_tui.db.engine import Store
from ims_tui.services import stock
from ims_tui.services.integrity import run_check
from tests.auth_support import PASSWORD, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import make_locations, make_product, open_store
from tests.test_purchasing_cli import run

D = Decimal
ADMIN = ("setup", "admin", "t")


@pytest.fixture
def url(store_url, fast_hashing, monkeypatch):
    from ims_tui.services.actor import Actor

    store = open_store(store_url)
    make_locations(store, "B-01", "B-02")
    make_product(store, "CASEY", cost="1.00", barcodes=(("05012345678900", 1), ("15012345678907", 12)))
    make_product(store, "MILK", tracking="lot", cost="1.00", barcodes=(("09501101530003", 1),))
    stock.receive(store, Actor(*ADMIN), "CASEY", D(137), to="B-01")
    stock.receive(store, Actor(*ADMIN), "MILK", D(59), to="B-01", lot="L7")
    for name, role in (("carl", "picker"), ("rita", "receiver"), ("mona", "manager")):
        add_user(store, name, role)
    store.dispose()
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    return store_url


def test_a_counter_never_sees_the_expected_quantity_a_manager_does(capsys, url):
    code, out, _ = run(capsys, url, "--user", "mona", "count", "create", "--locations", "B-01", "B-02")
    assert code == 0
    number = out.split(":")[0]
    seen = []
    for argv in (("count", "list"), ("count", "show", number), ("--json", "count", "show", number),
                 ("count", "scan", number, "B-01", "15012345678907", "11"),          # 11 cases of 12 = 132
                 ("--json", "count", "scan", number, "B-01", "]C1010950110153000310L7", "3"),  # GS1: GTIN + lot
                 ("count", "scan", number, "B-01", "MILK", "50", "--lot", "L7"),
                 ("count", "show", number), ("count", "done", number, "B-01"), ("count", "empty", number, "B-02"),
                 ("count", "submit", number), ("count", "show", number), ("--json", "count", "show", number)):
        code, out, err = run(capsys, url, "--user", "carl", *argv)
        assert code == 0, err
        seen.append(_without_times(out) if argv[0] == "--json" else out)
    everything = "\n".join(seen)
    assert not re.search(r"\b(137|59)\b", everything), "a counter saw an expected quantity"
    assert "expected" not in everything and "variance" not in everything
    assert "B-01: +132 CASEY, counted 132" in seen[3]
    assert "recount" in seen[-2]
    code, out, _ = run(capsys, url, "--user", "mona", "count", "show", number)
    assert code == 0 and "137" in out and "-5" in out and "59" in out   # 132 of 137; 53 of 59 lot L7


def _without_times(out: str) -> str:
    """JSON output with its timestamps dropped (a clock can read 17:59)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.endswith("_at")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return json.dumps(strip(json.loads(out)))


def test_permissions_and_bad_input_exit_codes(capsys, url):
    assert run(capsys, url, "--user", "carl", "count", "create", "--locations", "B-01")[:2] == (3, "")
    code, out, _ = run(capsys, url, "--user", "mona", "count", "create", "--locations", "B-01")
    number = out.split(":")[0]
    assert run(capsys, url, "--user", "carl", "count", "scan", number, "B-01", "NOPE", "1") == (
        2, "", "error: unknown code: NOPE\n")
    assert run(capsys, url, "--user", "carl", "count", "scan", number, "B-01", "MILK", "1")[2] == (
        "error: MILK is lot-tracked: scan its label or give the lot\n")
    assert run(capsys, url, "--user", "carl", "count", "scan", number, "B-01", "CASEY", "x")[0] == 2
    assert run(capsys, url, "--user", "carl", "count", "submit", number) == (
        1, "", "error: 1 bin(s) not counted yet: B-01 (count them or mark them empty)\n")
    assert run(capsys, url, "--user", "carl", "count", "approve", number)[0] == 3


def test_approve_lists_every_bad_line_and_posts_nothing(capsys, url):
    from ims_tui.services.actor import Actor

    code, out, _ = run(capsys, url, "--user", "mona", "count", "create", "--locations", "B-01")
    number = out.split(":")[0]
    run(capsys, url, "--user", "carl", "count", "scan", number, "B-01", "CASEY", "100")
    run(capsys, url, "--user", "carl", "count", "scan", number, "B-01", "MILK", "10", "--lot", "L7")
    assert run(capsys, url, "--user", "carl", "count", "submit", number)[0] == 0
    run(capsys, url, "--user", "rita", "count", "scan", number, "B-01", "CASEY", "100")
    run(capsys, url, "--user", "rita", "count", "scan", number, "B-01", "MILK", "10", "--lot", "L7")
    store = Store(url)
    stock.issue(store, Actor(*ADMIN), "CASEY", D(120), source="B-01")   # more left than the count says was there
    stock.issue(store, Actor(*ADMIN), "MILK", D(55), source="B-01", lot="L7")
    code, out, err = run(capsys, url, "--user", "mona", "count", "approve", number)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"error: {number}: 2 line(s) cannot be approved, nothing was posted",
        "  line 1 (CASEY at B-01): the count takes 37 but only 17 is unreserved there now (stock moved since the count): recount it",
        "  line 2 (MILK at B-01): the count takes 49 but only 4 is unreserved there now (stock moved since the count): recount it",
    ]
    assert run_check(store).clean
    store.dispose()
