"""Counts in words: "1 photo", "2 photos" (every count the window shows goes through here)."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` with its noun in the right number, thousands separated.

    Args:
        n: the count.
        noun: the singular ("photo").
        many: the plural when it is not ``noun + "s"``.

    Returns:
        "1 photo", "0 photos", "1,234 photos".
    """
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"
