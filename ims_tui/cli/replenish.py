"""``ims replenish alerts|suggest|order|reorder-points|settings``."""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, quantity
from ims_tui.services import replenishment
from ims_tui.services.errors import BadInput
from ims_tui.services.replenishment import qty_text
from ims_tui.values import format_money


def register(subparsers: argparse._SubParsersAction) -> None:
    replenish = subparsers.add_parser("replenish", help="reorder alerts, suggested POs, reorder points from demand")
    actions = replenish.add_subparsers(dest="replenish_command", metavar="ACTION")

    alerts = actions.add_parser("alerts", help="products whose projected stock is below the reorder point")
    alerts.add_argument("--warehouse", metavar="W")
    alerts.add_argument("--search", default="", metavar="TEXT", help="SKU or name contains TEXT")
    alerts.add_argument("--limit", type=int, default=200)
    alerts.add_argument("--refresh", action="store_true",
                        help="first recompute every alert (PO lines come within their lead time as days pass)")
    add_json_flag(alerts)
    alerts.set_defaults(handler=cmd_alerts)

    suggest = actions.add_parser("suggest", help="suggested PO lines grouped by supplier, with their inputs")
    suggest.add_argument("--all", action="store_true", help="every product below its point now, not only open alerts")
    add_json_flag(suggest)
    suggest.set_defaults(handler=cmd_suggest)

    order = actions.add_parser("order", help="create the draft POs (nothing an open PO already covers)")
    order.add_argument("--all", action="store_true", help="every product below its point now, not only open alerts")
    order.add_argument("--qty", action="append", default=[], metavar="SKU=QTY",
                       help="order QTY of SKU instead of the suggestion (0 leaves it out); repeatable")
    add_json_flag(order)
    order.set_defaults(handler=cmd_order)

    points = actions.add_parser("reorder-points", help="reorder points from demand, with their inputs")
    points.add_argument("--apply", nargs="+", default=[], metavar="SKU", help="write these products' suggested points")
    points.add_argument("--backtest", action="store_true",
                        help="replay the past year with the current and the suggested points")
    points.add_argument("--limit", type=int, default=200)
    add_json_flag(points)
    points.set_defaults(handler=cmd_reorder_points)

    settings = actions.add_parser("settings", help="show or change a product's reorder settings")
    settings.add_argument("code", help="SKU, barcode or supplier SKU")
    settings.add_argument("--warehouse", metavar="W", help="default: the product's home warehouse")
    settings.add_argument("--reorder-point", type=quantity, metavar="Q")
    settings.add_argument("--reorder-qty", type=quantity, metavar="Q")
    settings.add_argument("--max", type=quantity, dest="max_qty", metavar="Q", help="order up to this (0: no maximum)")
    settings.add_argument("--safety-stock", type=quantity, metavar="Q")
    settings.add_argument("--supplier", metavar="NAME", help="the preferred supplier ('' for none)")
    add_json_flag(settings)
    settings.set_defaults(handler=cmd_settings)


def _date(value) -> str:  # type: ignore[no-untyped-def]
    return value.isoformat() if value else "-"


def cmd_alerts(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.refresh:
        replenishment.refresh_alerts(ctx.store, ctx.actor)
    rows = replenishment.list_alerts(ctx.store, ctx.actor, limit=args.limit, search=args.search, warehouse=args.warehouse)
    header = f"{'SKU':<16} {'wh':<5} {'projected':>9} {'point':>7} {'on order':>8} {'suggest':>7} {'order by':<10}  supplier"
    text = "\n".join([header] + [
        f"{row.sku[:16]:<16} {row.warehouse[:5]:<5} {qty_text(row.projected):>9} {qty_text(row.reorder_point):>7} "
        f"{qty_text(row.on_order):>8} {qty_text(row.suggested_qty):>7} {_date(row.order_by):<10}  {row.supplier or '-'}"
        for row in rows
    ]) if rows else "no open reorder alerts"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def _render_suggestions(groups: list[replenishment.SupplierSuggestion]) -> str:
    if not groups:
        return "nothing to order: no product is below its reorder point"
    out = []
    for group in groups:
        out.append(f"{group.supplier or '(no preferred supplier)'}: order by {_date(group.order_by)}, "
                   f"value {format_money(group.value)}")
        out.append(f"  {'SKU':<16} {'qty':>7} {'projected':>9} {'point':>7} {'r.qty':>6} {'max':>6} {'MOQ':>5} "
                   f"{'pack':>5} {'lead':>4} {'d/day':>6} {'order by':<10}")
        for line in group.lines:
            out.append(
                f"  {line.sku[:16]:<16} {qty_text(line.qty):>7} {qty_text(line.projected):>9} "
                f"{qty_text(line.reorder_point):>7} {qty_text(line.reorder_qty):>6} {qty_text(line.max_qty):>6} "
                f"{qty_text(line.min_order_qty):>5} {qty_text(line.pack_qty):>5} {line.lead_time_days:>4} "
                f"{qty_text(line.daily_demand):>6} {_date(line.order_by):<10}")
    return "\n".join(out)


def cmd_suggest(ctx: CliContext, args: argparse.Namespace) -> int:
    groups = replenishment.suggest(ctx.store, ctx.actor, only_alerts=not args.all)
    ctx.emit([group.to_dict() for group in groups], _render_suggestions(groups))
    return 0


def _overrides(texts: list[str]) -> dict[str, object]:
    overrides = {}
    for text in texts:
        sku, sep, qty = text.partition("=")
        if not sep or not sku.strip():
            raise BadInput(f"--qty takes SKU=QTY, not {text!r}")
        overrides[sku.strip()] = qty.strip()
    return overrides


def cmd_order(ctx: CliContext, args: argparse.Namespace) -> int:
    created = replenishment.create_orders(ctx.store, ctx.actor, _overrides(args.qty), only_alerts=not args.all)
    text = "\n".join(f"{order.number} {order.supplier}: " + ", ".join(f"{qty_text(qty)} {sku}" for sku, qty in order.lines)
                     for order in created) or "nothing to order: open POs cover every alert"
    ctx.emit([order.to_dict() for order in created], text)
    return 0


def cmd_reorder_points(ctx: CliContext, args: argparse.Namespace) -> int:
    result = replenishment.backtest(ctx.store, ctx.actor, skus=args.apply, limit=args.limit) if args.backtest else None
    if args.apply:
        rows = replenishment.apply_reorder_points(ctx.store, ctx.actor, args.apply)
    else:
        rows = replenishment.reorder_points(ctx.store, ctx.actor, limit=args.limit)
    header = (f"{'SKU':<16} {'wh':<5} {'days':>4} {'out':>4} {'d/day':>7} {'sd':>7} {'lead':>4} {'z':>5} "
              f"{'safety':>6} {'current':>7} {'suggest':>7}")
    lines = [header] + [
        f"{row.sku[:16]:<16} {row.warehouse[:5]:<5} {row.days:>4} {row.stockout_days:>4} {qty_text(row.daily_demand):>7} "
        f"{qty_text(row.deviation):>7} {row.lead_time_days:>4} {row.z:>5} {qty_text(row.safety_stock):>6} "
        f"{qty_text(row.current):>7} {qty_text(row.suggested):>7}"
        for row in rows
    ] if rows else ["no products with reorder settings"]
    if args.apply and rows:
        lines.append(f"applied {len(rows)} reorder point{'s' if len(rows) != 1 else ''}")
    data: dict = {"reorder_points": [row.to_dict() for row in rows]}
    if result is not None:
        data["backtest"] = result.to_dict()
        lines.append(f"backtest over {result.days} days: {result.stockout_days_avoided} stock-out days avoided, "
                     f"{qty_text(result.average_stock_added)} more stock on average")
    ctx.emit(data if result is not None else data["reorder_points"], "\n".join(lines))
    return 0


def cmd_settings(ctx: CliContext, args: argparse.Namespace) -> int:
    changes = {"reorder_point": args.reorder_point, "reorder_qty": args.reorder_qty, "max_qty": args.max_qty,
               "safety_stock": args.safety_stock, "supplier": args.supplier}
    if any(value is not None for value in changes.values()):
        view = replenishment.set_reorder_settings(ctx.store, ctx.actor, args.code, warehouse=args.warehouse, **changes)
        ctx.emit(view.to_dict(), view.render())
        return 0
    views = replenishment.get_reorder_settings(ctx.store, ctx.actor, args.code)
    if args.warehouse:
        views = [view for view in views if view.warehouse.upper() == args.warehouse.strip().upper()]
    ctx.emit([view.to_dict() for view in views],
             "\n".join(view.render() for view in views) or f"{args.code}: no reorder settings")
    return 0
