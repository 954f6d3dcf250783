"""Citations: re-anchoring speed and status accuracy on generated policy revisions.

Run: .venv/bin/python bench/citations.py

Targets: 200 citations re-anchored across a 30-page revision in under 1 s;
status accuracy ≥ 95% on the labelled revisions of tests/citation_corpus.py
(seeds 1–20), and no `intact` for a passage whose meaning-bearing words changed.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.citation_corpus import revision
from watcher import citations
from watcher.errors import CitationError


def accuracy(
    seeds: range,
) -> tuple[int, int, int, Counter[tuple[str, str, str]], Counter[tuple[str, bool]]]:
    """(right, total, meaning changes called intact, confusions by (category, expected, got),
    cases by (expected status, right))."""
    right = total = meaning_intact = 0
    confusions: Counter[tuple[str, str, str]] = Counter()
    by_status: Counter[tuple[str, bool]] = Counter()
    for seed in seeds:
        rev = revision(seed)
        doc = citations.document(rev.new)
        for case in rev.cases:
            try:
                anchor = citations.anchor(rev.old, case.quote)
            except CitationError:
                continue  # a quote found twice in the old text: a rater would pick one
            got = citations.reanchor(anchor, doc).status
            total += 1
            right += got == case.expected
            by_status[(case.expected, got == case.expected)] += 1
            meaning_intact += case.category == "meaning" and got == "intact"
            if got != case.expected:
                confusions[(case.category, case.expected, got)] += 1
    return right, total, meaning_intact, confusions, by_status


def speed(count: int = 200) -> tuple[float, int, int]:
    """Seconds to re-anchor `count` citations on one ~15,000-word (30-page) revision."""
    rev = revision(101, sections=46, citations=count + 40)
    anchors = []
    for case in rev.cases:
        try:
            anchors.append(citations.anchor(rev.old, case.quote))
        except CitationError:
            continue  # a quote found twice in the old text: the spare cases make up for it
        if len(anchors) == count:
            break
    assert len(anchors) == count, len(anchors)
    t0 = time.perf_counter()
    doc = citations.document(rev.new)
    for anchor in anchors:
        citations.reanchor(anchor, doc)
    elapsed = time.perf_counter() - t0
    words = len(rev.new.split())
    return elapsed, len(anchors), words


def main() -> None:
    elapsed, n, words = speed()
    print(
        f"re-anchoring {n} citations on a {words:,}-word revision (~{words // 500} pages): {elapsed:.3f} s"
    )
    right, total, meaning_intact, confusions, by_status = accuracy(range(1, 21))
    print(f"status accuracy: {right}/{total} = {right / total:.1%}")
    for status in citations.STATUSES:
        ok, wrong = by_status[(status, True)], by_status[(status, False)]
        if ok + wrong:
            print(f"  expected {status}: {ok}/{ok + wrong} = {ok / (ok + wrong):.1%}")
    print(f"meaning-bearing changes called intact: {meaning_intact}")
    for (category, expected, got), count in confusions.most_common():
        print(f"  {category}: expected {expected}, got {got} × {count}")


if __name__ == "__main__":
    main()
