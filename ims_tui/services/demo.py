"""The demo store: a small hardware-and-supplies wholesaler with three months of history.

Deterministic for a given seed.  All stock history goes through the ledger (backdated), so the
demo store passes ``ims check`` like any real one.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from alembic import command
from biip.checksums import gs1_standard_check_digit
from sqlalchemy import func, inspect, make_url, select
from sqlalchemy.orm import Session

from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Barcode,
    Customer,
    Location,
    Posting,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
    StoreMeta,
    Supplier,
    ReorderSetting,
    SupplierItem,
    User,
    Warehouse,
)
from ims_tui.services import alerts, audit, ledger, reservations
from ims_tui.services.actor import Actor
from ims_tui.services.auth import DEMO_PIN
from ims_tui.services.errors import BadInput, PermissionDenied, RuleViolation
from ims_tui.services.passwords import hash_secret
from ims_tui.services.permissions import Permission, check
from ims_tui.values import SUPPLIER

DEMO_USERS = (
    ("admin", "admin", "Alex Admin"),
    ("manager", "manager", "Morgan Manager"),
    ("receiver", "receiver", "Riley Receiver"),
    ("picker", "picker", "Parker Picker"),
    ("auditor", "auditor", "Avery Auditor"),
)

SUPPLIERS = (
    ("ACME", "Acme Industrial Supply", 5),
    ("NORD", "Nordic Fasteners AB", 12),
    ("VOLT", "Voltline Electrical", 7),
    ("AQUA", "Aquaflow Plumbing Ltd", 9),
    ("SAFE", "Safeguard PPE", 6),
    ("FRSH", "Fresh Valley Foods", 3),
    ("MEDI", "Medisupply Direct", 4),
    ("TOOL", "Torque Tools Co", 14),
)

# category: (supplier code, tracking, uom, price range, [(name template, sizes)])
CATALOGUE = {
    "Fasteners": ("NORD", "none", "ea", (0.05, 2.5), [
        ("Hex bolt {s} zinc plated", ["M6 x 30 mm", "M8 x 40 mm", "M10 x 50 mm", "M12 x 60 mm", "M16 x 80 mm"]),
        ("Wood screw {s} countersunk", ["3.5 x 30 mm", "4 x 40 mm", "4.5 x 50 mm", "5 x 60 mm", "6 x 80 mm"]),
        ("Nyloc nut {s} stainless A2", ["M5", "M6", "M8", "M10", "M12"]),
        ("Flat washer {s} DIN 125", ["M6", "M8", "M10", "M12", "M16"]),
        ("Wall plug {s} nylon", ["5 mm", "6 mm", "8 mm", "10 mm"]),
        ("Threaded rod {s} 1 m", ["M6", "M8", "M10", "M12"]),
    ]),
    "Electrical": ("VOLT", "none", "ea", (1.5, 45.0), [
        ("Cable tie {s} black UV", ["100 mm", "200 mm", "300 mm", "450 mm"]),
        ("Twin and earth cable {s} 50 m", ["1.0 mm2", "1.5 mm2", "2.5 mm2", "6.0 mm2"]),
        ("Wago lever connector {s}", ["2-way", "3-way", "5-way"]),
        ("LED panel {s} 4000K", ["600 x 600", "1200 x 300", "300 x 300"]),
        ("Double socket {s} white", ["13A switched", "13A unswitched", "13A with USB-C"]),
        ("MCB {s} type B", ["6A", "10A", "16A", "20A", "32A"]),
    ]),
    "Plumbing": ("AQUA", "none", "ea", (0.8, 60.0), [
        ("Copper pipe {s} 3 m", ["15 mm", "22 mm", "28 mm"]),
        ("Compression elbow {s}", ["15 mm", "22 mm", "28 mm"]),
        ("Ball valve {s} lever handle", ["1/2 in", "3/4 in", "1 in"]),
        ("PTFE tape {s}", ["12 mm x 12 m", "19 mm x 15 m"]),
        ("Push-fit tee {s}", ["15 mm", "22 mm"]),
        ("Flexible tap connector {s}", ["300 mm", "500 mm"]),
    ]),
    "Safety": ("SAFE", "none", "ea", (0.9, 35.0), [
        ("Nitrile gloves {s} box of 100", ["size S", "size M", "size L", "size XL"]),
        ("Safety glasses {s}", ["clear", "smoke", "anti-fog"]),
        ("Hi-vis vest {s} EN 20471", ["M", "L", "XL", "XXL"]),
        ("Ear defenders {s}", ["SNR 28", "SNR 33"]),
        ("FFP2 mask {s}", ["box of 20", "box of 50"]),
        ("Safety boots {s} S3", ["size 40", "size 42", "size 44", "size 46"]),
    ]),
    "Food & Beverage": ("FRSH", "lot", "ea", (0.6, 12.0), [
        ("Spring water {s}", ["500 ml", "1.5 l", "5 l"]),
        ("Instant coffee {s}", ["200 g", "500 g"]),
        ("Oat biscuits {s}", ["300 g", "12 x 40 g"]),
        ("Orange juice {s}", ["1 l", "250 ml x 6"]),
        ("Energy bar {s}", ["peanut", "berry", "cocoa"]),
    ]),
    "First Aid": ("MEDI", "lot", "ea", (1.2, 48.0), [
        ("Plasters {s} assorted", ["box of 40", "box of 100"]),
        ("Eye wash solution {s}", ["250 ml", "500 ml"]),
        ("Burn gel {s}", ["sachet 3.5 g", "tube 50 ml"]),
        ("First aid kit {s} BS 8599", ["small", "medium", "large"]),
        ("Sterile dressing {s}", ["small", "medium", "large"]),
    ]),
    "Power Tools": ("TOOL", "serial", "ea", (49.0, 420.0), [
        ("Cordless drill {s} 18V", ["combi", "brushless combi", "compact"]),
        ("Angle grinder {s}", ["115 mm", "125 mm"]),
        ("Laser distance meter {s}", ["30 m", "50 m"]),
        ("Barcode scanner {s}", ["handheld USB", "cordless 2D"]),
        ("Impact driver {s} 18V", ["standard", "brushless"]),
    ]),
    "Packaging": ("ACME", "none", "ea", (0.1, 25.0), [
        ("Cardboard box {s} double wall", ["300 x 200 x 200", "400 x 300 x 300", "600 x 400 x 400"]),
        ("Packing tape {s}", ["48 mm x 66 m brown", "48 mm x 66 m clear"]),
        ("Stretch film {s}", ["400 mm x 250 m", "500 mm x 300 m"]),
        ("Bubble wrap {s}", ["500 mm x 50 m", "750 mm x 50 m"]),
        ("Pallet label {s}", ["A5 roll of 500", "A6 roll of 1000"]),
    ]),
}
FINISHES = ("", "Pro", "Value", "Heavy duty", "Trade pack")

MIN_SHELF_DAYS = {"Northgate School": 30, "Oakfield Care Home": 60, "Quayside Cafe": 20, "Thornbury Hotel": 30}
"""Customers who accept no lot with fewer days to expiry than this."""

CUSTOMERS = (
    "Brightside Builders", "Harbour Facilities", "Kestrel Electrical", "Maple & Oak Joinery",
    "Northgate School", "Oakfield Care Home", "Pinnacle Plumbing", "Quayside Cafe",
    "Riverside Council", "Summit Roofing", "Thornbury Hotel", "Westfield Garage",
)


@dataclass
class DemoSummary:
    products: int = 0
    locations: int = 0
    postings: int = 0
    purchase_orders: int = 0
    sales_orders: int = 0
    users: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.products} products, {self.locations} locations, {self.postings} postings of history, "
            f"{self.purchase_orders} purchase orders, {self.sales_orders} sales orders"
        )

    def to_dict(self) -> dict:
        return {
            "products": self.products,
            "locations": self.locations,
            "postings": self.postings,
            "purchase_orders": self.purchase_orders,
            "sales_orders": self.sales_orders,
            "users": [{"username": u, "role": r} for u, r in self.users],
        }


def with_check_digit(body: str) -> str:
    return body + str(gs1_standard_check_digit(body))


def store_is_empty(store: Store) -> bool:
    """True when the store has no schema, or a schema with no products, users or movements."""
    if schema.is_empty(store):
        return True
    with store.connect() as connection:
        if "products" not in inspect(connection).get_table_names():
            return False
    with store.read() as session:
        return not any(session.scalar(select(func.count()).select_from(t)) for t in (Product, User))


def store_name(store: Store) -> str:
    """What an administrator types to confirm a reset: the SQLite file's name or the database's."""
    database = make_url(store.url).database or ""
    return Path(database).name if store.backend == "sqlite" else database


def load_demo(
    store: Store, *, password: str = "demo", reset: bool = False, seed: int = 7, station: str = "demo",
    actor: Actor | None = None, confirm: str | None = None, force: bool = False,
) -> DemoSummary:
    """Load the demo store; refuses a store that holds data unless ``reset``.

    Resetting drops every table, the ledger and the audit log included, so it takes an
    administrator (``actor``) who names the store (``confirm``), and ``force`` as well when
    the store holds stock postings.  The refusal of anyone else is audited.
    """
    if not store_is_empty(store):
        if not reset:
            raise RuleViolation("the store already holds data; use 'ims demo --reset' to replace it")
        schema.refuse_newer(store)
        _may_reset(store, actor, confirm, force)
        _wipe(store)
    schema.upgrade(store)
    hashes = {name: hash_secret(password) for name, _, _ in DEMO_USERS}
    pin_hash = hash_secret(DEMO_PIN)

    def _work(session):
        summary = DemoSummary()  # afresh on a retry
        _DemoBuilder(session, random.Random(seed), Actor.system(station), summary).build(hashes, pin_hash)
        return summary

    summary = store.transact(_work)
    _floor_work(store, Actor.system(station))
    return summary


def _floor_work(store: Store, actor: Actor) -> None:
    """Work waiting on the floor, made through the services: two count tasks to do (a zone and
    the products a schedule says are due), a transfer from WH1 to WH2 in transit and two pick
    lists ready for the picker.  The history's lots that expired ten days ago wait for the
    expired-lot sweep."""
    from ims_tui.services import counts, picking, sales, stock_transfers
    from ims_tui.services.purchasing import LineInput

    counts.create_count(store, actor, locations=["WH1-B"])
    counts.create_count(store, actor, scheduled=True)
    with store.read() as session:
        rows = session.execute(
            select(Product.sku, Location.code)
            .join(Balance, Balance.product_id == Product.id).join(Location, Location.id == Balance.location_id)
            .join(Warehouse, Warehouse.id == Location.warehouse_id)
            .where(Warehouse.code == "WH1", Product.tracking == "none", Balance.on_hand - Balance.reserved >= 6)
            .order_by(Product.sku, Location.code).limit(2)
        ).all()
    if rows:
        transfer = stock_transfers.create_transfer(store, actor, "WH1", "WH2", [LineInput(sku, Decimal(6)) for sku, _ in rows])
        stock_transfers.ship(store, actor, transfer.number, sorted({code for _, code in rows}))
    # two fully reserved orders already have their pick lists, in walking order, for the picker
    ready = [so.number for so in sales.list_sos(store, actor, status="confirmed") if not so.qty_waiting]
    for number in sorted(ready)[:2]:
        picking.create_pick(store, actor, [number])


def _may_reset(store: Store, actor: Actor | None, confirm: str | None, force: bool) -> None:
    if actor is None:
        raise PermissionDenied("permission denied: only an administrator may reset a store")
    check(store, actor, Permission.MANAGE_USERS, "demo --reset")  # administrators only
    name = store_name(store)
    if confirm != name:
        raise BadInput(f"type the store's name to confirm the reset: --confirm {name}")
    schema.ensure_current(store)
    with store.read() as session:
        postings = session.scalar(select(func.count()).select_from(Posting)) or 0
    if postings and not force:
        raise RuleViolation(f"the store holds {postings} stock postings: add --force to wipe them with everything else")


def _wipe(store: Store) -> None:
    config = schema._alembic_config()
    with store.connect(begin=True) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


class _DemoBuilder:
    def __init__(self, session: Session, rng: random.Random, actor: Actor, summary: DemoSummary) -> None:
        self.session = session
        self.rng = rng
        self.actor = actor
        self.summary = summary
        self.today = dt.date.today()

    def build(self, hashes: dict[str, str], pin_hash: str) -> None:
        session = self.session
        session.add_all([StoreMeta(key="demo", value="1"), StoreMeta(key="valuation_method", value="fifo")])
        for index, (username, role, full_name) in enumerate(DEMO_USERS, start=1):
            session.add(
                User(username=username, role=role, full_name=full_name, password_hash=hashes[username],
                     badge_code=f"BADGE-{index:04d}", pin_hash=pin_hash)
            )
            self.summary.users.append((username, role))
        suppliers = {code: Supplier(code=code, name=name, lead_time_days=lead, email=f"orders@{code.lower()}.example",
                                    phone=f"+44 20 7946 {index:04d}") for index, (code, name, lead) in enumerate(SUPPLIERS)}
        session.add_all(suppliers.values())
        customers = [Customer(code=f"C{index:04d}", name=name, email=f"buying@c{index:04d}.example",
                              min_shelf_days=MIN_SHELF_DAYS.get(name, 0))
                     for index, name in enumerate(CUSTOMERS, start=1)]
        session.add_all(customers)
        bins = self._locations()
        session.flush()
        products = self._products(suppliers, bins)
        session.flush()
        self._reorder_settings(products)
        self._history(products, bins)
        self._purchase_orders(products, suppliers)
        self._sales_orders(products, customers)
        session.flush()
        alerts.refresh_all(session)  # the orders above were written directly, not through the services
        audit.record(session, self.actor, "demo.load", "store", self.summary.describe())

    def _locations(self) -> list[Location]:
        bins: list[Location] = []
        layout = {"WH1": ("Main warehouse", "ABCD", 6, 3), "WH2": ("North depot", "AB", 4, 2)}
        for wh_code, (wh_name, aisles, bays, levels) in layout.items():
            warehouse = Warehouse(code=wh_code, name=wh_name)
            root = Location(code=wh_code, name=wh_name, kind="view", warehouse=warehouse)
            dock = Location(code=f"{wh_code}-RCV", name=f"{wh_name} receiving dock", warehouse=warehouse, parent=root,
                            barcode=f"{wh_code}-RCV")
            packing = Location(code=f"{wh_code}-PACK", name=f"{wh_name} packing", warehouse=warehouse, parent=root,
                               barcode=f"{wh_code}-PACK", usage="packing")
            quarantine = Location(code=f"{wh_code}-QUAR", name=f"{wh_name} quarantine", warehouse=warehouse,
                                  parent=root, barcode=f"{wh_code}-QUAR", usage="quarantine")
            self.session.add_all([warehouse, root, dock, packing, quarantine])
            bins.append(dock)
            for aisle in aisles:
                aisle_location = Location(code=f"{wh_code}-{aisle}", name=f"Aisle {aisle}", kind="view",
                                          warehouse=warehouse, parent=root)
                self.session.add(aisle_location)
                for bay in range(1, bays + 1):
                    for level in range(1, levels + 1):
                        code = f"{wh_code}-{aisle}-{bay:02d}-{level}"
                        location = Location(code=code, name=f"Aisle {aisle} bay {bay} level {level}",
                                            warehouse=warehouse, parent=aisle_location, barcode=code)
                        self.session.add(location)
                        bins.append(location)
        self.summary.locations = len(bins)
        return bins

    def _products(self, suppliers: dict[str, Supplier], bins: list[Location]) -> list[Product]:
        rng = self.rng
        products: list[Product] = []
        serial_no = 10_000
        storage_bins = [b for b in bins if not b.code.endswith("RCV")]
        for category, (supplier_code, tracking, uom, (low, high), templates) in CATALOGUE.items():
            for template, sizes in templates:
                for size in sizes:
                    for finish in rng.sample(FINISHES, k=2):
                        serial_no += 1
                        name = template.format(s=size) + (f", {finish}" if finish else "")
                        cost = Decimal(str(round(rng.uniform(low, high), 2)))
                        price = (cost * Decimal(str(round(rng.uniform(1.3, 1.9), 2)))).quantize(Decimal("0.01"))
                        sku = f"{category[:3].upper()}-{serial_no}"
                        product = Product(
                            sku=sku, name=name, category=category, uom=uom, tracking=tracking,
                            description=f"{name}. {category} line from {suppliers[supplier_code].name}.",
                            unit_price=price, standard_cost=cost,
                            reorder_point=Decimal(rng.choice((0, 5, 10, 20, 40))),
                            reorder_qty=Decimal(rng.choice((10, 24, 48, 100))),
                            default_location=rng.choice(storage_bins),
                        )
                        body = f"50{rng.randrange(10**9, 10**10)}"
                        product.barcodes.append(Barcode(code=with_check_digit(body), pack_qty=Decimal(1)))
                        if tracking != "serial" and rng.random() < 0.5:
                            case_body = f"1{body}"
                            product.barcodes.append(Barcode(code=with_check_digit(case_body),
                                                            pack_qty=Decimal(rng.choice((6, 12, 24)))))
                        product.supplier_items.append(
                            SupplierItem(supplier=suppliers[supplier_code], supplier_sku=f"{supplier_code}-{rng.randrange(10000, 99999)}",
                                         cost=cost, lead_time_days=suppliers[supplier_code].lead_time_days,
                                         min_order_qty=Decimal(rng.choice((1, 6, 12))))
                        )
                        self.session.add(product)
                        products.append(product)
        self.summary.products = len(products)
        return products

    def _reorder_settings(self, products: list[Product]) -> None:
        """Each product's reorder point in its home warehouse, ordered from its supplier; the
        supplier sells in cases where the product has a case barcode."""
        for product in products:
            cases = [barcode.pack_qty for barcode in product.barcodes if barcode.pack_qty > 1]
            item = product.supplier_items[0]
            item.pack_qty = cases[0] if cases else Decimal(1)
            if product.reorder_point > 0:
                maximum = product.reorder_point + 2 * product.reorder_qty if product.reorder_qty >= 48 else Decimal(0)
                self.session.add(ReorderSetting(
                    product_id=product.id, warehouse_id=product.default_location.warehouse_id,
                    reorder_point=product.reorder_point, reorder_qty=product.reorder_qty, max_qty=maximum,
                    safety_stock=Decimal(0), supplier_id=item.supplier_id))
        self.session.flush()

    def _post(self, kind: str, move: ledger.StockMove, at: dt.datetime, reason: str = "", reference: str = "") -> None:
        ledger.post(self.session, self.actor, kind, [move], key=ledger.new_key(), reason=reason, reference=reference, at=at)
        self.summary.postings += 1

    def _history(self, products: list[Product], bins: list[Location]) -> None:
        """Three months: opening receipts, weekly deliveries, daily shipments, moves and a few counts."""
        rng = self.rng
        start = dt.datetime.combine(self.today - dt.timedelta(days=90), dt.time(8), tzinfo=dt.timezone.utc)
        serial_counter = 0
        stocked: dict[str, list[tuple[str, str | None, Decimal, list[str]]]] = {}
        for product in products:
            lots: list[tuple[str, str | None, Decimal, list[str]]] = []
            for delivery in range(rng.choice((1, 2, 3))):
                at = start + dt.timedelta(days=delivery * 25 + rng.randrange(0, 10), hours=rng.randrange(0, 8))
                location = product.default_location.code
                lot = expiry = None
                serials: tuple[str, ...] = ()
                if product.tracking == "serial":
                    qty = Decimal(rng.randrange(2, 6))
                    serials = tuple(f"SN{product.sku[-5:]}{serial_counter + i:05d}" for i in range(int(qty)))
                    serial_counter += int(qty)
                else:
                    qty = Decimal(rng.choice((24, 48, 60, 100, 120, 200)))
                    if product.tracking == "lot":
                        lot = f"L{at:%y%m%d}{rng.randrange(10, 99)}"
                        expiry = self.today + dt.timedelta(days=rng.choice((-10, 12, 25, 45, 90, 180, 365)))
                cost = (product.standard_cost * Decimal(str(round(rng.uniform(0.92, 1.08), 3)))).quantize(Decimal("0.0001"))
                self._post("receive", ledger.StockMove(product.sku, qty, SUPPLIER, location, lot, expiry, serials, cost),
                           at, reference=f"opening delivery {delivery + 1}")
                lots.append((location, lot, qty, list(serials)))
            stocked[product.sku] = lots
        # shipments and moves over the period
        for day in range(5, 90):
            at_day = start + dt.timedelta(days=day)
            for _ in range(rng.randrange(6, 14)):
                product = rng.choice(products)
                entries = [entry for entry in stocked[product.sku] if entry[2] > 0]
                if not entries:
                    continue
                index = stocked[product.sku].index(entries[0])
                location, lot, available, serials = entries[0]
                at = at_day + dt.timedelta(hours=rng.randrange(1, 9), minutes=rng.randrange(60))
                if rng.random() < 0.8:
                    qty = min(available, Decimal(rng.randrange(1, 12)))
                    take = tuple(serials[: int(qty)]) if serials else ()
                    self._post("issue", ledger.StockMove(product.sku, qty, location, "CUSTOMER", lot, None, take),
                               at, reference=f"SO-{rng.randrange(1000, 1999)}")
                    stocked[product.sku][index] = (location, lot, available - qty, serials[int(qty):] if serials else [])
                else:
                    target = rng.choice(bins).code
                    if target == location:
                        continue
                    qty = min(available, Decimal(rng.randrange(1, 6)))
                    take = tuple(serials[: int(qty)]) if serials else ()
                    self._post("move", ledger.StockMove(product.sku, qty, location, target, lot, None, take), at)
                    stocked[product.sku][index] = (location, lot, available - qty, serials[int(qty):] if serials else [])
                    stocked[product.sku].append((target, lot, qty, list(take)))

    def _purchase_orders(self, products: list[Product], suppliers: dict[str, Supplier]) -> None:
        rng = self.rng
        by_supplier: dict[int, list[Product]] = {}
        for product in products:
            by_supplier.setdefault(product.supplier_items[0].supplier_id, []).append(product)
        statuses = ["ordered", "ordered", "ordered", "draft", "ordered", "draft", "ordered", "ordered"]
        for number, (supplier, status) in enumerate(zip(suppliers.values(), statuses, strict=True), start=1):
            order = PurchaseOrder(
                number=f"PO-{number:06d}", supplier=supplier, status=status, created_by="manager",
                expected_date=self.today + dt.timedelta(days=supplier.lead_time_days),
                ordered_at=dt.datetime.now(dt.timezone.utc) if status == "ordered" else None,
            )
            for line_no, product in enumerate(rng.sample(by_supplier[supplier.id], k=min(5, len(by_supplier[supplier.id]))), start=1):
                order.lines.append(PurchaseOrderLine(
                    line_no=line_no, product=product, unit_cost=product.standard_cost,
                    qty_ordered=Decimal(rng.choice((2, 4, 6))) if product.tracking == "serial" else Decimal(rng.choice((24, 48, 96, 120))),
                    expected_date=order.expected_date,
                ))
            self.session.add(order)
        self.summary.purchase_orders = len(suppliers)

    def _sales_orders(self, products: list[Product], customers: list[Customer]) -> None:
        """Eight orders: drafts, and confirmed ones reserved by the same rules as ``ims so confirm``
        (ready to pick); the last asks for more than the store has, so part of it waits for stock."""
        rng = self.rng
        confirmed: list[SalesOrder] = []
        for number, customer in enumerate(rng.sample(customers, k=8), start=1):
            status = "confirmed" if number in (1, 2, 4, 5, 7, 8) else "draft"
            due = self.today + dt.timedelta(days=rng.randrange(1, 10))
            order = SalesOrder(number=f"SO-{number:06d}", customer=customer, status=status, policy="as-available",
                               hold_reason="", created_by="manager", due_date=due)
            for line_no, product in enumerate(rng.sample(products, k=rng.randrange(2, 6)), start=1):
                qty = Decimal(rng.randrange(1, 10)) if number != 8 or line_no > 1 else Decimal(400)
                order.lines.append(SalesOrderLine(line_no=line_no, product=product, unit_price=product.unit_price,
                                                  qty_ordered=qty, requested_date=due))
            self.session.add(order)
            if status == "confirmed":
                confirmed.append(order)
        self.session.flush()
        now = dt.datetime.now(dt.timezone.utc)
        for order in confirmed:
            order.confirmed_at = now
            for line in order.lines:
                line.qty_waiting = line.qty_ordered
            self.session.flush()
            for line in order.lines:
                reservations.allocate_line(self.session, order_id=order.id, line_id=line.id, product_id=line.product_id,
                                           qty=line.qty_ordered, min_shelf_days=order.customer.min_shelf_days)
        self.summary.sales_orders = 8
