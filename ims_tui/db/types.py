"""Exact decimal columns stored as scaled integers.

SQLite has no decimal type, and floats lose stock.  A quantity of ``12.5`` is stored as the
integer ``12500`` (scale 3), so ``on_hand - :n``, ``SUM(qty)`` and ``CHECK (on_hand >= 0)`` are
exact integer arithmetic in the database on every backend, and Python sees ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import BigInteger
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from ims_tui.values import MONEY_SCALE, QTY_SCALE  # one definition, with the range it bounds



class ScaledDecimal(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator):  # noqa: N801 - SQLAlchemy's hook name
        """``a - b`` of two same-scale columns stays scaled, so ``a - b >= :n`` binds ``n`` scaled.

        Without this the difference would be a plain integer expression and ``:n`` would be
        compared unscaled.
        """

        def _adapt_expression(self, op, other_comparator):  # type: ignore[no-untyped-def]
            other = other_comparator.type
            if op in (operators.add, operators.sub) and isinstance(other, ScaledDecimal) and other.scale == self.type.scale:
                return op, self.type
            return super()._adapt_expression(op, other_comparator)

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        return to_scaled(value, self.scale)

    def process_result_value(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale)

    def result_processor(self, dialect, coltype):  # type: ignore[no-untyped-def]
        """:meth:`process_result_value` without TypeDecorator's wrapping: a list of 100,000
        products reads a million of these, and the wrapper cost more than the conversion."""
        exponent = -self.scale

        def process(value):  # type: ignore[no-untyped-def]
            return None if value is None else Decimal(int(value)).scaleb(exponent)

        return process

    def bind_processor(self, dialect):  # type: ignore[no-untyped-def]
        """:meth:`process_bind_param` without TypeDecorator's wrapping (an import binds 400,000):
        a Decimal with no more decimals than the scale is scaled inline, anything else (and every
        refusal, with its message) goes through :func:`to_scaled`."""
        scale = self.scale

        def process(value):  # type: ignore[no-untyped-def]
            if value is None:
                return None
            if type(value) is Decimal and value.is_finite():
                scaled = value.scaleb(scale)
                whole = int(scaled)
                if whole == scaled:
                    return whole
            return to_scaled(value, scale)

        return process

    @property
    def python_type(self) -> type:
        return Decimal


def to_scaled(value: Decimal | int | str, scale: int) -> int:
    """``Decimal('1.25')`` at scale 3 -> ``1250``; refuses more decimals than the scale keeps."""
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
        scaled = number.scaleb(scale)
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"not a number: {value!r}") from None
    if not scaled.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {scale} decimal places")
    return int(scaled)


def Qty() -> ScaledDecimal:  # noqa: N802 - reads as a column type
    return ScaledDecimal(QTY_SCALE)


def Money() -> ScaledDecimal:  # noqa: N802
    return ScaledDecimal(MONEY_SCALE)
