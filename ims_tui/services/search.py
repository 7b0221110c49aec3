"""Search as you type over SKU, name, barcode and supplier SKU, paged for a million products.

Results come in stages, best first, each stage an index range read in index order with keyset
paging (never ``OFFSET``), so a page costs the same on page 1 and page 1000, and on 1,000 or
1,000,000 products:

1. exact code: SKU, any barcode (in any GTIN padding) or a supplier SKU;
2. SKU prefix (as typed, and upper-cased; so are the code prefixes of 4 and 5);
3. name prefix (as typed, lower, Capitalised, UPPER, Title);
4. barcode prefix, 5. supplier-SKU prefix (3+ characters);
6. name or SKU *containing* the text (2+ characters): the only scan, bounded by the page size,
   and only fetched once the prefix stages are exhausted - a first page that already has
   prefix matches ends there and the list asks for the contains stage when scrolled to it.

A product shows up in one stage only (each excludes what earlier stages matched); the barcode and
supplier-SKU stages list a product once per matching code, showing that code.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Balance, Barcode, Product, SupplierItem
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import gtin_variants
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check

MAX_LIMIT = 500
PAGE_SIZE = 50
HIGH = "\U0010ffff"
"""Sorts after every character: ``prefix <= x < prefix + HIGH`` is an index range for 'starts with'."""

STAGES = ("exact", "sku", "name", "barcode", "supplier_sku", "contains")


@dataclass(frozen=True)
class ProductHit:
    """One line of the results list."""

    id: int
    sku: str
    name: str
    uom: str
    on_hand: Decimal
    active: bool
    matched_by: str
    matched_code: str | None = None


@dataclass(frozen=True)
class SearchCursor:
    """Where the next page starts (opaque to callers)."""

    text: str
    stage: int
    variant: int = 0
    after: tuple = ()
    exact_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SearchPage:
    hits: list[ProductHit]
    next_cursor: SearchCursor | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def search_products(
    store: Store, actor: Actor, text: str, cursor: SearchCursor | None = None, limit: int = PAGE_SIZE
) -> SearchPage:
    """A page of products matching ``text`` (all products by SKU when empty); pass the page's
    ``next_cursor`` back for the following page."""
    check(store, actor, Permission.LOOKUP, "search")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"page size must be 1 to {MAX_LIMIT}")
    text = text.strip()
    if cursor is not None and cursor.text != text:
        raise BadInput("cursor belongs to another search")
    with store.read() as session:
        return _Search(session, text).page(cursor, limit)


def _prefix(column, prefix: str):
    """``column`` starts with ``prefix``, as an index range (the LIKE keeps odd collations honest)."""
    return and_(column >= prefix, column < prefix + HIGH, column.startswith(prefix, autoescape=True))


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


class _Search:
    def __init__(self, session: Session, text: str) -> None:
        self.session = session
        self.text = text
        self.sku_variants = _unique([text, text.upper()])
        self.name_variants = _unique([text, text.lower(), text.capitalize(), text.upper(), text.title()])
        self.code_stages = len(text) >= 3
        self.on_hand = (
            select(func.coalesce(func.sum(Balance.on_hand), 0))
            .where(Balance.product_id == Product.id)
            .correlate(Product)
            .scalar_subquery()
        )

    # -- which rows each stage matches ----------------------------------------------------

    def _sku_match(self):
        return or_(*(_prefix(Product.sku, v) for v in self.sku_variants))

    def _name_match(self):
        return or_(*(_prefix(Product.name, v) for v in self.name_variants))

    def _barcode_match(self):
        return exists().where(Barcode.product_id == Product.id, or_(*(_prefix(Barcode.code, v) for v in self.sku_variants)))

    def _supplier_match(self):
        return exists().where(
            SupplierItem.product_id == Product.id, or_(*(_prefix(SupplierItem.supplier_sku, v) for v in self.sku_variants))
        )

    def _earlier(self, stage: str, exact_ids: tuple[int, ...]):
        """Rows an earlier stage already listed, to leave out of ``stage``."""
        conditions = [Product.id.in_(exact_ids)] if exact_ids else []
        order = STAGES.index(stage)
        if order > STAGES.index("sku"):
            conditions.append(self._sku_match())
        if order > STAGES.index("name"):
            conditions.append(self._name_match())
        if self.code_stages and order > STAGES.index("barcode"):
            conditions.append(self._barcode_match())
        if self.code_stages and order > STAGES.index("supplier_sku"):
            conditions.append(self._supplier_match())
        return not_(or_(*conditions)) if conditions else true()

    def _columns(self):
        return (Product.id, Product.sku, Product.name, Product.uom, self.on_hand, Product.active)

    # -- paging ----------------------------------------------------------------------------

    def page(self, cursor: SearchCursor | None, limit: int) -> SearchPage:
        if not self.text:
            return self._all(cursor, limit)
        if cursor is None:
            exact = self._exact()
            cursor = SearchCursor(self.text, 1, exact_ids=tuple(hit.id for hit in exact))
            hits = exact[:limit]
        else:
            hits = []
        stage, variant, after = cursor.stage, cursor.variant, cursor.after
        while stage < len(STAGES):
            name = STAGES[stage]
            if name == "contains" and hits:
                # prefix matches fill the first screen; the scan waits until it is scrolled to
                return SearchPage(hits, SearchCursor(self.text, stage, 0, (), cursor.exact_ids))
            want = limit - len(hits)
            if want <= 0:
                return SearchPage(hits, SearchCursor(self.text, stage, variant, after, cursor.exact_ids))
            rows, last_key, variants = self._stage(name, variant, after, want + 1, cursor.exact_ids)
            if len(rows) > want:
                hits.extend(rows[:want])
                return SearchPage(hits, SearchCursor(self.text, stage, variant, last_key(rows[want - 1]), cursor.exact_ids))
            hits.extend(rows)
            if variant + 1 < variants:
                variant, after = variant + 1, ()
            else:
                stage, variant, after = stage + 1, 0, ()
        return SearchPage(hits, None)

    def _all(self, cursor: SearchCursor | None, limit: int) -> SearchPage:
        query = select(*self._columns()).order_by(Product.sku).limit(limit + 1)
        if cursor is not None and cursor.after:
            query = query.where(Product.sku > cursor.after[0])
        rows = [ProductHit(*row, matched_by="all") for row in self.session.execute(query)]
        if len(rows) > limit:
            return SearchPage(rows[:limit], SearchCursor("", 0, after=(rows[limit - 1].sku,)))
        return SearchPage(rows, None)

    def _exact(self) -> list[ProductHit]:
        codes = gtin_variants(self.text)
        query = (
            select(*self._columns())
            .where(
                or_(
                    Product.sku.in_(self.sku_variants),
                    Product.id.in_(select(Barcode.product_id).where(Barcode.code.in_(codes))),
                    Product.id.in_(select(SupplierItem.product_id).where(SupplierItem.supplier_sku == self.text)),
                )
            )
            .order_by(Product.sku)
            .limit(MAX_LIMIT)
        )
        return [ProductHit(*row, matched_by="code", matched_code=self.text) for row in self.session.execute(query)]

    def _stage(self, name: str, variant: int, after: tuple, limit: int, exact_ids: tuple[int, ...]):
        """(hits, key-of-hit for the cursor, number of variants) of one stage."""
        earlier = self._earlier(name, exact_ids)
        columns = self._columns()
        if name == "sku":
            prefix = self.sku_variants[variant]
            query = select(*columns).where(_prefix(Product.sku, prefix), earlier).order_by(Product.sku)
            if after:
                query = query.where(Product.sku > after[0])
            rows = [ProductHit(*row, matched_by="sku") for row in self.session.execute(query.limit(limit))]
            return rows, lambda hit: (hit.sku,), len(self.sku_variants)
        if name == "name":
            prefix = self.name_variants[variant]
            query = select(*columns).where(_prefix(Product.name, prefix), earlier).order_by(Product.name, Product.id)
            if after:
                query = query.where(or_(Product.name > after[0], and_(Product.name == after[0], Product.id > after[1])))
            rows = [ProductHit(*row, matched_by="name") for row in self.session.execute(query.limit(limit))]
            return rows, lambda hit: (hit.name, hit.id), len(self.name_variants)
        if name in ("barcode", "supplier_sku"):
            if not self.code_stages:
                return [], None, 1
            table, column = (Barcode, Barcode.code) if name == "barcode" else (SupplierItem, SupplierItem.supplier_sku)
            query = (
                select(*columns, column, table.id)
                .join(table, table.product_id == Product.id)
                .where(_prefix(column, self.sku_variants[variant]), earlier)
                .order_by(column, table.id)
            )
            if after:
                query = query.where(or_(column > after[0], and_(column == after[0], table.id > after[1])))
            rows = []
            keys: dict[int, tuple] = {}
            for *row, code, row_id in self.session.execute(query.limit(limit)):
                hit = ProductHit(*row, matched_by=name, matched_code=code)
                keys[id(hit)] = (code, row_id)
                rows.append(hit)
            return rows, lambda hit: keys[id(hit)], len(self.sku_variants)
        if len(self.text) < 2:
            return [], None, 1
        query = (
            select(*columns)
            .where(or_(Product.name.icontains(self.text, autoescape=True), Product.sku.icontains(self.text, autoescape=True)), earlier)
            .order_by(Product.id)
        )
        if after:
            query = query.where(Product.id > after[0])
        rows = [ProductHit(*row, matched_by="contains") for row in self.session.execute(query.limit(limit))]
        return rows, lambda hit: (hit.id,), 1
