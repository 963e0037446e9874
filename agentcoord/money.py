"""Money: integer micro-dollars in storage and arithmetic, Decimal dollars at the edges.

Prices, estimates and usage costs are integer micro-dollars (`_micro_usd`), so sums are exact;
this module is the one place they become dollars, for reasons, reports and tables.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICRO_USD_PER_USD = 1_000_000


def micro_usd_to_usd(micro_usd: int) -> Decimal:
    """Exact dollars for an integer amount of micro-dollars (6 decimal places)."""
    return Decimal(micro_usd).scaleb(-6)


def format_usd(micro_usd: int, *, places: int = 4) -> str:
    """Dollars for people, rounded half-up: `format_usd(9_200)` is `"$0.0092"`."""
    amount = micro_usd_to_usd(micro_usd).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )
    return f"${amount}"
