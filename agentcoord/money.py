"""Money: integer micro-dollars in storage and arithmetic, Decimal dollars at the edges.

Prices, estimates and usage costs are integer micro-dollars (`_micro_usd`), so sums are exact;
this module is the one place they become dollars, for reasons, reports and tables, and the one
place dollars people write (price tables, budgets) become micro-dollars.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def usd_to_micro_usd(value: object) -> int:
    """Exact micro-dollars for a non-negative dollar amount written as text or a number.

    `"0.80"`, `0.8`, `"$12.50"` and `3` are accepted; floats go through their shortest text
    form, so `0.1` is exactly 100_000. Raises ValueError for anything else, for negative
    amounts, and for amounts finer than a micro-dollar.
    """
    text = str(value).strip().removeprefix("$")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount in USD") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} is not a non-negative amount in USD")
    micro = amount * MICRO_USD_PER_USD
    if micro != micro.to_integral_value():
        raise ValueError(f"{value!r} is finer than a micro-dollar")
    return int(micro)

