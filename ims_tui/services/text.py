"""Text people type or scan into the store: plain text only, within each field's length.

Control characters (ESC, BEL, NUL, the C1 range ...) are refused where text is entered - the CLI,
an import, a station - because a stored ``ESC ] 0 ; ... BEL`` would drive the terminal of whoever
reads it later.  Text that got in before is shown with :func:`visible`, on the CLI and on screen.
Lengths are checked here against each field's limit so SQLite (which stores any length) and
PostgreSQL (which fails with SQL in the message) refuse the same thing with the same line.
"""

from __future__ import annotations

import unicodedata

from ims_tui.services.errors import BadInput

# The longest text each field takes (the column sizes in db/models.py).
LIMITS: dict[str, int] = {
    "sku": 60, "name": 300, "description": 100_000, "category": 120, "uom": 20, "lot": 80, "serial": 120,
    "key": 200, "reference": 200, "reason": 200, "station": 120, "username": 120, "full name": 200,
    "location": 60, "location name": 200, "barcode": 80, "supplier": 200, "supplier code": 40, "supplier SKU": 80,
    "email": 200, "phone": 60, "warehouse": 20, "note": 100_000, "badge": 120, "customer": 200,
}

_MULTILINE = {"description", "note"}


def is_control(char: str) -> bool:
    """C0 and C1 control characters and DEL (Unicode category Cc)."""
    return unicodedata.category(char) == "Cc"


def first_control(text: str, allowed: str = "") -> int | None:
    """The index of the first control character in ``text`` not in ``allowed``, else None.

    ``str.isprintable`` (C speed) is false for every control character, so printable text - nearly
    all text - is answered without looking at each character."""
    if text.isprintable():
        return None
    return next((index for index, char in enumerate(text) if is_control(char) and char not in allowed), None)


def check_text(field: str, value: str, *, limit: int | None = None) -> str:
    """``value`` if it is plain text within the field's length, else :class:`BadInput` naming the
    field and the problem in one line.  Descriptions and notes may hold line breaks and tabs."""
    position = first_control(value, "\n\t" if field in _MULTILINE else "")
    if position is not None:
        raise BadInput(f"{field} contains a control character (U+{ord(value[position]):04X} at position {position + 1}): "
                       "type plain text")
    most = limit if limit is not None else LIMITS.get(field)
    if most is not None and len(value) > most:
        raise BadInput(f"{field} is too long: {len(value)} characters, at most {most}")
    return value


def check_optional(field: str, value: str | None) -> str | None:
    return None if value is None else check_text(field, value)


def visible(text: str, *, keep: str = "\n\t") -> str:
    """``text`` with every control character except those in ``keep`` written as ``\\xNN`` /
    ``\\uNNNN``, so stored text can never drive a terminal."""
    if not any(is_control(char) and char not in keep for char in text):
        return text
    return "".join(_escape(char) if is_control(char) and char not in keep else char for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


ESCAPES: dict[int, str] = {
    code: _escape(chr(code)) for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if chr(code) not in "\n\t"
}
"""``str.translate`` table of :func:`visible` (the station's renderers use it)."""
