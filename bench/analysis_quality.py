"""Quality of watcher.analysis on both labelled corpora. Prints Markdown tables.

Run: .venv/bin/python bench/analysis_quality.py

1. tests/analysis_corpus.py (short version pairs, half of them noise): precision
   and recall per kind, as tests/test_analysis.py checks them.
2. tests/analysis_documents.py (10 generated documents of 20+ pages, each with
   a full revision of 20+ annotated material changes and decoys, an
   additions-only revision and a formatting-only revision): per kind, the
   recall of annotated changes, the noise share (signals touching no material
   change), direction accuracy where stated, and severity agreement.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.analysis_documents import Annotation, documents
from tests.test_analysis import quality_table
from watcher.analysis import analyse
from watcher.detect import diff
from watcher.models import Signal


def _words(text: str | None) -> set[str]:
    return {w.strip(".,;:|\"'()…").lower() for w in (text or "").split()} - {""}


def touches(signal: Signal, change: Annotation) -> bool:
    """Whether a signal's evidence is the sentence of an annotated change."""
    for quote in (signal.old, signal.new):
        q = _words(quote)
        if not q:
            continue
        for side in (change.old, change.new):
            s = _words(side)
            if s and len(q & s) >= 0.8 * min(len(q), len(s)):
                return True
    return False


def documents_table() -> tuple[str, dict[str, float]]:
    recall: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    signals = noise = stated = right = agree = revisions = quiet_formatting = 0
    noisy: Counter[str] = Counter()
    for _, revs in documents():
        for rev in revs:
            result = analyse(rev.old, rev.new, change=diff(rev.old, rev.new))
            revisions += 1
            agree += result.severity == rev.severity
            if rev.name == "formatting":
                quiet_formatting += not result.signals
            for change in rev.changes:
                primary = sorted(change.kinds)[0]
                expected[primary] += 1
                hit = [s for s in result.signals if touches(s, change)]
                recall[primary] += any(s.kind in change.kinds for s in hit)
                for s in hit:
                    if getattr(s, "direction", None) and change.direction:
                        stated += 1
                        right += getattr(s, "direction", None) == change.direction
            for s in result.signals:
                signals += 1
                if not any(touches(s, change) for change in rev.changes):
                    noise += 1
                    noisy[s.kind] += 1
    lines = ["| kind | annotated | caught | recall | noise signals |", "|---|---:|---:|---:|---:|"]
    for kind in sorted(set(expected) | set(noisy)):
        r = recall[kind] / expected[kind] if expected[kind] else 1.0
        lines.append(f"| `{kind}` | {expected[kind]} | {recall[kind]} | {r:.2f} | {noisy[kind]} |")
    figures = {
        "recall": sum(recall.values()) / max(sum(expected.values()), 1),
        "noise_share": noise / max(signals, 1),
        "direction": right / stated if stated else 1.0,
        "severity": agree / max(revisions, 1),
        "formatting_quiet": quiet_formatting / max(len(documents()), 1),
    }
    lines.append("")
    lines.append(
        f"{revisions} revisions; recall {figures['recall']:.2f}; {signals} signals, noise share "
        f"{figures['noise_share']:.2f}; direction right {right}/{stated}; severity agreement "
        f"{agree}/{revisions}; formatting-only revisions without a signal {quiet_formatting}/"
        f"{len(documents())}."
    )
    return "\n".join(lines), figures


def main() -> None:
    table, _ = quality_table()
    print(table)
    print()
    print(documents_table()[0])


if __name__ == "__main__":
    main()
