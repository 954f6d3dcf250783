"""How fast is watcher.detect.diff on policy-sized documents? Prints timings.

Run: .venv/bin/python bench/diff_speed.py

Synthetic documents: ~50,000 words in ~2,500 lines (headings every ~25
paragraphs, paragraphs of ~20 words from a Zipf-like vocabulary), then ~500
edited sentences (words replaced, inserted or removed; a few paragraphs added
or deleted). Also the pathological inputs the caps exist for.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.detect import diff, render_html, render_text

SEED = 20261101


def vocabulary(rng: random.Random, size: int = 3000) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(size)]
    weights = [1 / (rank + 1) for rank in range(size)]  # Zipf-like: "the" is common
    return words, weights


def document(rng: random.Random, lines: int = 2500, words_per_line: int = 20) -> list[str]:
    words, weights = vocabulary(rng)
    out: list[str] = []
    section = 0
    for index in range(lines):
        if index % 25 == 0:
            section += 1
            out.append(f"## {section}. " + " ".join(rng.choices(words, weights, k=3)))
            continue
        n = rng.randint(words_per_line // 2, words_per_line * 3 // 2)
        out.append(" ".join(rng.choices(words, weights, k=n)).capitalize() + ".")
    return out


def edit(rng: random.Random, lines: list[str], edits: int = 500) -> list[str]:
    lines = list(lines)
    for index in sorted(rng.sample(range(len(lines)), edits), reverse=True):
        words = lines[index].split()
        kind = rng.random()
        if kind < 0.04:
            del lines[index]
        elif kind < 0.08:
            lines.insert(index, "A new paragraph about risk thresholds and evaluations.")
        else:
            at = rng.randrange(len(words))
            if kind < 0.6:
                words[at] = "changed"
            elif kind < 0.8:
                words.insert(at, "newly")
            elif len(words) > 1:
                del words[at]
            lines[index] = " ".join(words)
    return lines


def best_of(fn: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    rng = random.Random(SEED)
    old_lines = document(rng)
    old = "\n".join(old_lines)
    new = "\n".join(edit(rng, old_lines))
    same = str(old + " ")[:-1]  # equal but not the same object
    change = diff(old, new)
    assert change is not None
    print(f"document: {len(old.split())} words, {len(old_lines)} lines; {len(change.hunks)} hunks")

    cases: list[tuple[str, Callable[[], object]]] = [
        ("diff, ~500 edits", lambda: diff(old, new)),
        ("diff, identical texts", lambda: diff(old, same)),
        ("render_text", lambda: render_text(change)),
        ("render_html", lambda: render_html(change, title="t", old_label="a", new_label="b")),
    ]
    words, _ = vocabulary(random.Random(1), 40)
    unrelated_a = " ".join(rng.choices(words, k=20_000))
    unrelated_b = " ".join(rng.choices(words, k=20_000))
    cases.append(("diff, unrelated 20k-word single lines", lambda: diff(unrelated_a, unrelated_b)))
    block_a = " ".join(rng.choices(words, k=2000))
    block_b = " ".join(rng.choices(words, k=2000))
    cases.append(("diff, unrelated 2k-word lines, 40-word vocab", lambda: diff(block_a, block_b)))
    english_a = " ".join(rng.choices(document(random.Random(2), 120), k=100))
    english_b = english_a.replace(" a", " b")
    cases.append(("diff, one 2k-word paragraph, many edits", lambda: diff(english_a, english_b)))
    rewrapped_b = "\n".join(" ".join(line.split()[:10]) for line in old_lines)
    cases.append(("diff, every line cut short", lambda: diff(old, rewrapped_b)))
    repetitive_a = "\n".join(["- Yes"] * 20_000)
    repetitive_b = "\n".join(["- Yes"] * 10_000 + ["- No"] + ["- Yes"] * 9_999)
    cases.append(
        ("diff, 20k identical lines, one changed", lambda: diff(repetitive_a, repetitive_b))
    )

    for name, fn in cases:
        best, median = best_of(fn)
        print(f"{name:45s} best {best:8.2f} ms   median {median:8.2f} ms")


if __name__ == "__main__":
    main()
