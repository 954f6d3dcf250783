"""How fast is watcher.analysis.analyse on policy-sized documents? Prints timings.

Run: .venv/bin/python bench/analysis_speed.py

Synthetic policy: ~50,000 words in ~2,500 paragraphs of one to three
sentences, built from policy vocabulary (firm and hedged commitments,
percentages, durations, FLOP counts, watched terms) with a heading every ~25
paragraphs. Then 1% of the sentences are edited: modal verbs swapped, numbers
changed, qualifiers dropped, words replaced, a few sentences deleted or added.

Times `analyse` with the `Change` from `detect.diff` (what the pipeline does)
and without (analysis runs its own line diff), plus `detect.diff` alone, on
one core: best and median of several runs.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.analysis import analyse
from watcher.detect import diff

SEED = 20261127
WATCH_TERMS = ("third-party", "external review", "board", "whistleblower", "ASL-3")

SUBJECTS = [
    "We",
    "The Responsible Scaling Officer",
    "The Board",
    "Each evaluation team",
    "Our security programme",
    "The third-party auditor",
    "Every frontier model",
]
MODALS = ["will", "must", "shall", "should", "may", "aim to", "commit to", "expect to"]
VERBS = [
    "review",
    "evaluate",
    "document",
    "publish",
    "restrict access to",
    "report on",
    "test",
    "monitor",
]
OBJECTS = [
    "the capability thresholds",
    "model weights",
    "the evaluation results",
    "the safeguards report",
    "insider risk",
    "the deployment decision",
    "ASL-3 safeguards",
    "external review findings",
]
TAILS = [
    "every {n} months",
    "within {n} days",
    "when a model exceeds a {p}% success rate",
    "for models trained with more than 10^{e} FLOP",
    "at least {n} times per year",
    "where appropriate",
    "before deployment",
    "as part of the annual review",
    "with the help of domain experts",
    "and share a summary with the board",
]
FILLER = [
    "risk",
    "capability",
    "model",
    "safety",
    "evaluation",
    "security",
    "deployment",
    "governance",
    "policy",
    "process",
    "team",
    "review",
    "threshold",
    "mitigation",
    "incident",
    "response",
    "research",
    "data",
    "training",
    "compute",
    "access",
    "control",
    "audit",
    "report",
    "decision",
    "oversight",
    "staff",
    "expert",
    "elicitation",
    "benchmark",
]


def sentence(rng: random.Random) -> str:
    tail = rng.choice(TAILS).format(
        n=rng.randint(2, 90), p=rng.randint(10, 95), e=rng.randint(23, 28)
    )
    extra = " ".join(rng.choices(FILLER, k=rng.randint(2, 6)))
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(MODALS)} {rng.choice(VERBS)} "
        f"{rng.choice(OBJECTS)} {tail}, covering {extra}."
    )


def document(rng: random.Random, paragraphs: int = 1400) -> list[list[str]]:
    """Paragraphs as lists of sentences; headings are one-sentence paragraphs starting '#'."""
    out: list[list[str]] = [["# Frontier Safety Policy"]]
    section = 0
    for index in range(paragraphs):
        if index % 25 == 0:
            section += 1
            out.append([f"## {section}. " + " ".join(rng.choices(FILLER, k=3)).title()])
        out.append([sentence(rng) for _ in range(rng.randint(1, 3))])
    return out


def edit(rng: random.Random, paragraphs: list[list[str]], share: float) -> list[list[str]]:
    paragraphs = [list(p) for p in paragraphs]
    places = [
        (i, j) for i, p in enumerate(paragraphs) if not p[0].startswith("#") for j in range(len(p))
    ]
    for i, j in rng.sample(places, max(1, int(len(places) * share))):
        text = paragraphs[i][j]
        kind = rng.random()
        if kind < 0.25:
            for a, b in (("will", "may"), ("must", "should"), ("commit to", "aim to")):
                text = text.replace(f" {a} ", f" {b} ", 1)
        elif kind < 0.5:
            words = text.split()
            at = next((k for k, w in enumerate(words) if w[:1].isdigit()), None)
            if at is not None:
                words[at] = str(rng.randint(2, 90))
            text = " ".join(words)
        elif kind < 0.65:
            text = text.replace(" every ", " ", 1).replace(" at least ", " ", 1)
        elif kind < 0.9:
            words = text.split()
            words[rng.randrange(1, len(words))] = rng.choice(FILLER)
            text = " ".join(words)
        elif kind < 0.95:
            text = ""
        else:
            text = text + " " + sentence(rng)
        if text == paragraphs[i][j]:  # the edit found nothing to change: replace a word
            words = text.split()
            words[rng.randrange(1, len(words))] = rng.choice(FILLER)
            text = " ".join(words)
        paragraphs[i][j] = text
    return paragraphs


def join(paragraphs: list[list[str]]) -> str:
    return "\n".join(" ".join(s for s in p if s) for p in paragraphs if any(p))


def timed(label: str, function: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    print(f"{label:<48} best {best * 1000:7.1f} ms   median {median * 1000:7.1f} ms")
    return median


def main() -> None:
    rng = random.Random(SEED)
    base = document(rng)
    old = join(base)
    new = join(edit(rng, base, 0.01))
    sentences = sum(len(p) for p in base)
    print(
        f"old: {len(old.split()):,} words, {sentences:,} sentences; "
        f"new: {len(new.split()):,} words; 1% of sentences edited"
    )
    change = diff(old, new)
    assert change is not None
    analysis = analyse(old, new, change=change, watch_terms=WATCH_TERMS)
    print(f"{len(change.hunks)} hunks; {analysis.headline()}; {len(analysis.signals)} signals")
    timed("detect.diff", lambda: diff(old, new))
    timed(
        "analyse(change=…)  (the pipeline's call)",
        lambda: analyse(old, new, change=change, watch_terms=WATCH_TERMS),
    )
    timed("analyse() with its own line diff", lambda: analyse(old, new, watch_terms=WATCH_TERMS))
    timed(
        "detect.diff + analyse(change=…)",
        lambda: analyse(old, new, change=diff(old, new), watch_terms=WATCH_TERMS),
    )
    rewritten = join(document(random.Random(SEED + 1)))
    timed(
        "worst case: whole document rewritten",
        lambda: analyse(old, rewritten, watch_terms=WATCH_TERMS),
        runs=3,
    )


if __name__ == "__main__":
    main()
