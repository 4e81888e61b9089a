"""Numbers in words for the map's tooltips, legends and figures: pounds, per head, ranks, percentages."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def esc(value: object) -> str:
    """Escape any value for HTML text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _isnum(x: Any) -> bool:
    try:
        return x is not None and not (isinstance(x, float) and math.isnan(x)) and not pd.isna(x)
    except (TypeError, ValueError):
        return False


def fmt_pounds(x: Any) -> str:
    """Whole pounds with thousands separators: ``£1,234,567`` (``n/a`` when missing)."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return ("-" if v < 0 else "") + f"\u00a3{abs(v):,.0f}"


def fmt_pounds_signed(x: Any) -> str:
    """Like :func:`fmt_pounds` with an explicit ``+`` for gains."""
    if not _isnum(x):
        return "n/a"
    return ("+" if float(x) > 0 else "") + fmt_pounds(x)


def fmt_pounds_short(x: Any) -> str:
    """Short pounds for legends: ``£1.2m``, ``£850k``, ``£12.34``."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e6:
        return f"{sign}\u00a3{a / 1e6:.1f}m"
    if a >= 1e4:
        return f"{sign}\u00a3{a / 1e3:.0f}k"
    if a >= 100:
        return f"{sign}\u00a3{a:,.0f}"
    return f"{sign}\u00a3{a:.2f}"


def fmt_per_head(x: Any) -> str:
    """Pounds and pence per head: ``£12.34``."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return ("-" if v < 0 else "") + f"\u00a3{abs(v):,.2f}"


def _fmt_rank(x: Any) -> str:
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _fmt_num(x: Any, spec: str) -> str:
    return format(float(x), spec) if _isnum(x) else "n/a"


def _fmt_pct(x: Any) -> str:
    """Signed percentage to one decimal; "0%" for zero and "less than 0.1%" for what rounds to
    zero (never "-0.0%")."""
    if not _isnum(x):
        return "n/a"
    v = round(float(x), 1)
    if v == 0:
        return "0%" if float(x) == 0 else "less than 0.1%"
    return f"{v:+.1f}%"

