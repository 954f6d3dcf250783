"""Counts worded for people: `plural(1, "word")` is "1 word", `plural(2, "word")` "2 words".

Pure functions; this module depends on nothing of watcher's.
"""

from __future__ import annotations


def plural(count: float, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, the noun plural unless the count is one ("1 word", "0 words",
    "1,200 words", "1.5 days"); `many` for a noun that does not just take an s."""
    shown = f"{count:,}" if isinstance(count, int) else f"{count:,g}"
    return f"{shown} {noun if count == 1 else (many or noun + 's')}"
