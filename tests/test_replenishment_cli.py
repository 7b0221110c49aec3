"""``ims replenish ...``: the same service calls as the screens, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ims_tui.services import stock
from tests.auth_support import PASSWORD, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import run_cli
from tests.replenish_support import SETUP, make_item, make_store


@pytest.fixture
def url(store, store_url):
    make_store(store)
    make_item(store, "C-1", "Acme", reorder_point=10, reorder_qty=5, moq=12)
    make_item(store, "C-2", "Bolt", reorder_point=10, reorder_qty=7, pack=6)
    stock.receive(store, SETUP, "C-1", Decimal(8), to="A-01")
    stock.receive(store, SETUP, "C-2", Decimal(30), to="A-01")
    return store_url


def test_alerts_suggest_order_on_the_command_line(capsys, url):
    code, out, _ = run_cli(capsys, url, "replenish", "alerts", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert (row["sku"], row["projected"], row["reorder_point"], row["suggested_qty"], row["supplier"]) == ("C-1", "8", "10", "12", "Acme")
    code, out, _ = run_cli(capsys, url, "replenish", "alerts")
    assert code == 0 and out.splitlines()[1].split()[:6] == ["C-1", "WH1", "8", "10", "0", "12"]

    code, out, _ = run_cli(capsys, url, "replenish", "suggest", "--json")
    [group] = json.loads(out)
    assert group["supplier"] == "Acme" and [(ln["sku"], ln["qty"], ln["min_order_qty"]) for ln in group["lines"]] == [("C-1", "12", "12")]
    assert run_cli(capsys, url, "replenish", "suggest")[1].startswith("Acme: order by ")

    code, out, _ = run_cli(capsys, url, "replenish", "order", "--json")
    [order] = json.loads(out)
    assert code == 0 and order["supplier"] == "Acme" and order["lines"] == [{"sku": "C-1", "qty": "12"}]
    assert run_cli(capsys, url, "replenish", "order") == (0, "nothing to order: open POs cover every alert\n", "")
    code, out, _ = run_cli(capsys, url, "po", "show", order["number"], "--json")
    assert json.loads(out)["status"] == "draft"
    assert run_cli(capsys, url, "replenish", "alerts") == (0, "no open reorder alerts\n", "")
    assert run_cli(capsys, url, "check")[0] == 0


def test_settings_and_reorder_points_on_the_command_line(capsys, url):
    code, out, _ = run_cli(capsys, url, "replenish", "settings", "C-2", "--reorder-point", "40", "--max", "60", "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["reorder_point"], shown["max_qty"], shown["pack_qty"], shown["in_alert"]) == ("40", "60", "6", True)
    code, out, _ = run_cli(capsys, url, "replenish", "order", "--qty", "C-2=36", "--qty", "C-1=0", "--json")
    assert [(o["supplier"], o["lines"]) for o in json.loads(out)] == [("Bolt", [{"sku": "C-2", "qty": "36"}])]
    code, out, _ = run_cli(capsys, url, "replenish", "settings", "C-2")
    assert code == 0 and out.startswith("C-2 in WH1 (home): reorder at 40 (safety 0), order 7, max 60; Bolt")

    code, out, _ = run_cli(capsys, url, "replenish", "reorder-points", "--json")
    assert code == 0 and [row["sku"] for row in json.loads(out)] == ["C-1", "C-2"]
    code, out, _ = run_cli(capsys, url, "replenish", "reorder-points", "--apply", "C-1", "--backtest", "--json")
    data = json.loads(out)
    assert code == 0 and [row["sku"] for row in data["reorder_points"]] == ["C-1"] and data["backtest"]["days"] == 365
    assert "applied 1 reorder point" in run_cli(capsys, url, "replenish", "reorder-points", "--apply", "C-1")[1]


@pytest.mark.parametrize(("argv", "exit_code", "message"), [
    (("replenish", "settings", "NOPE"), 2, "error: unknown product 'NOPE'\n"),
    (("replenish", "settings", "C-1", "--max", "5"), 1, "error: the maximum (5) of C-1 is below its reorder point (10)\n"),
    (("replenish", "settings", "C-1", "--warehouse", "WH9", "--reorder-point", "3"), 2, "error: unknown warehouse 'WH9'\n"),
    (("replenish", "order", "--qty", "C-1"), 2, "error: --qty takes SKU=QTY, not 'C-1'\n"),
    (("replenish", "order", "--qty", "C-2=5"), 2, "error: nothing is suggested for C-2\n"),
    (("replenish", "reorder-points", "--apply", "NOPE"), 2, "error: unknown product 'NOPE'\n"),
])
def test_refusals_are_one_line(capsys, url, argv, exit_code, message):
    assert run_cli(capsys, url, *argv) == (exit_code, "", message)


def test_a_picker_may_not_see_or_order(capsys, url, store, monkeypatch, fast_hashing):  # noqa: F811
    add_user(store, "pia", "picker")
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    for argv in (("alerts",), ("order",), ("reorder-points", "--apply", "C-1")):
        code, out, err = run_cli(capsys, url, "--user", "pia", "replenish", *argv)
        assert (code, out) == (3, "") and err.startswith("error: permission denied: role picker may not replenish")
