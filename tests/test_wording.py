"""Counts worded for people (`watcher.wording`)."""

from __future__ import annotations

import pytest

from watcher.wording import plural


@pytest.mark.parametrize(
    ("count", "noun", "shown"),
    [
        (1, "word", "1 word"),
        (0, "word", "0 words"),
        (2, "open task", "2 open tasks"),
        (1_200, "word", "1,200 words"),
        (1.0, "day", "1 day"),
        (1.5, "day", "1.5 days"),
        (3, "criterion", "3 criteria"),
    ],
)
def test_plural(count: float, noun: str, shown: str) -> None:
    many = "criteria" if noun == "criterion" else None
    assert plural(count, noun, many) == shown
