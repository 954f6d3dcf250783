"""Precision and recall of watcher.analysis on the labelled corpus. Prints a Markdown table.

Run: .venv/bin/python bench/analysis_quality.py

The corpus is tests/analysis_corpus.py (version pairs of realistic policy
passages, about half of them noise or cosmetic edits); the table is the one
tests/test_analysis.py checks (precision ≥ 0.9, recall ≥ 0.85 for the signals
of issue 5 points 1–6). A kind counts once per pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_analysis import quality_table


def main() -> None:
    table, _ = quality_table()
    print(table)


if __name__ == "__main__":
    main()
