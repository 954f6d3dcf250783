"""How closely do the diff's hunks and word marks fit the edits they show? Prints a table.

Run: .venv/bin/python bench/localisation.py

Revision pairs of generated policy text (seeded: the same text every run,
varied sentences from several vocabularies, not one example's words), each
with known edits annotated by their place in the old and the new text:

- rewrite: a third of the sentences across the document edited (words
  replaced, a few words inserted or deleted);
- mixed: a few sentences of a paragraph edited and a paragraph added after
  it that reuses an edited sentence's review cycle;
- clause: a clause appended inside a sentence ('…, unless …');
- split/merge: two sentences merged into one, or one split in two;
- reflow: paragraphs wrapped over lines (as PDF text is), re-wrapped at
  another width, with a word edited here and there.

For each edit: the length of the smallest thing the diff shows that covers
it, divided by the edit's length (old and new sides counted together). In a
word-marked hunk that is the stretch from the first to the last mark that
touches the edit; in a hunk without marks, all its removed and added lines.
The target: a median ≤ 3 on rewrites. The mixed revisions are also checked
for the issue's case: every edit word-marked, no `large_rewrite`, and the
review cycle that became vague still reported.
"""

from __future__ import annotations

import random
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.analysis import analyse
from watcher.detect import diff
from watcher.models import Change, Hunk

SEED = 20261206

SUBJECTS = [
    "We",
    "The safety team",
    "The board",
    "Our security staff",
    "The responsible scaling officer",
    "Each model owner",
    "The frontier risk council",
    "Internal auditors",
    "The deployment committee",
    "Red-team leads",
]
MODALS = ["will", "must", "shall", "commit to", "are required to"]
VERBS = [
    "review",
    "evaluate",
    "document",
    "restrict",
    "monitor",
    "report on",
    "approve",
    "test",
    "audit",
    "publish",
]
OBJECTS = [
    "model weights",
    "dangerous capability evaluations",
    "access to training clusters",
    "the incident response plan",
    "third-party red-teaming results",
    "safeguards for deployed systems",
    "the capability thresholds",
    "insider threat controls",
    "security exceptions",
    "external disclosure practices",
    "compute usage records",
    "the model release checklist",
]
QUALIFIERS = [
    "before any external deployment",
    "with support from independent experts",
    "using the agreed evaluation protocol",
    "for every frontier model we train",
    "in line with the security standard",
    "across all research teams",
    "with a written rationale",
    "for systems above the threshold",
]
CYCLES = ["annually", "quarterly", "monthly", "every six months", "weekly"]
VAGUE = ["periodically", "regularly", "as needed", "from time to time"]
CLAUSES = [
    ", unless the deployment committee grants a written exception",
    ", except where doing so would reveal sensitive security details",
    ", provided that the relevant thresholds have not been reached",
    ", to the extent that this is operationally feasible",
    ", although smaller models may follow a lighter process",
]
REPLACEMENTS = [
    "senior leadership",
    "a designated reviewer",
    "relevant",
    "critical",
    "appropriate",
    "selected",
    "internal",
    "material",
]


def sentence(rng: random.Random) -> str:
    text = f"{rng.choice(SUBJECTS)} {rng.choice(MODALS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.6:
        text += f" {rng.choice(QUALIFIERS)}"
    if rng.random() < 0.3:
        text += f" {rng.choice(CYCLES)}"
    return text + "."


@dataclass
class Edit:
    kind: str
    old: tuple[int, int]  # characters of the old text
    new: tuple[int, int]  # characters of the new text

    @property
    def size(self) -> int:
        return self.old[1] - self.old[0] + self.new[1] - self.new[0]


@dataclass
class Builder:
    """Old and new texts built side by side, with the edits' places."""

    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    old_len: int = 0
    new_len: int = 0

    def same(self, text: str) -> None:
        self.old.append(text)
        self.new.append(text)
        self.old_len += len(text)
        self.new_len += len(text)

    def edit(self, kind: str, before: str, after: str) -> None:
        self.edits.append(
            Edit(
                kind,
                (self.old_len, self.old_len + len(before)),
                (self.new_len, self.new_len + len(after)),
            )
        )
        self.old.append(before)
        self.new.append(after)
        self.old_len += len(before)
        self.new_len += len(after)

    def texts(self) -> tuple[str, str]:
        return "".join(self.old), "".join(self.new)


def edited_sentence(
    rng: random.Random, builder: Builder, text: str, kind: str, edits: int = 1
) -> None:
    """`text` with `edits` words replaced, inserted or removed (each edit annotated)."""
    words = text[:-1].split(" ")
    places = sorted(rng.sample(range(1, len(words)), min(edits, len(words) - 1)))
    builder.same(words[0])
    for index in range(1, len(words)):
        if index not in places:
            builder.same(" " + words[index])
            continue
        what = rng.random()
        if what < 0.55:  # a word replaced
            builder.same(" ")
            builder.edit(kind, words[index], rng.choice(REPLACEMENTS))
        elif what < 0.8:  # words inserted before it
            builder.same(" ")
            builder.edit(kind, "", rng.choice(REPLACEMENTS) + " ")
            builder.same(words[index])
        else:  # the word dropped
            builder.edit(kind, " " + words[index], "")
    builder.same(".")


def paragraph(rng: random.Random) -> list[str]:
    return [sentence(rng) for _ in range(rng.randint(3, 6))]


def rewrite_pair(rng: random.Random) -> tuple[str, str, list[Edit]]:
    """Half the paragraphs heavily edited: most sentences reworded, some added or
    removed; here and there a paragraph added or removed between them."""
    b = Builder()
    for section in range(1, 9):
        b.same(f"## {section}. {rng.choice(OBJECTS).capitalize()}\n")
        for _ in range(rng.randint(2, 4)):
            if rng.random() < 0.1:
                b.edit("rewrite", "", " ".join(paragraph(rng)) + "\n")
            if rng.random() < 0.1:
                b.edit("rewrite", " ".join(paragraph(rng)) + "\n", "")
                continue
            heavy = rng.random() < 0.5
            for index, text in enumerate(paragraph(rng)):
                if index:
                    b.same(" ")
                if heavy and rng.random() < 0.15:
                    b.edit("rewrite", "", sentence(rng) + " ")
                if heavy and rng.random() < 0.1:
                    b.edit("rewrite", text, sentence(rng))
                elif heavy and rng.random() < 0.1 and index:
                    b.edit("rewrite", text, "")
                elif rng.random() < (0.7 if heavy else 0.1):
                    edited_sentence(rng, b, text, "rewrite", rng.randint(1, 3))
                else:
                    b.same(text)
            b.same("\n")
    old, new = b.texts()
    return old, new, b.edits


def mixed_pair(rng: random.Random) -> tuple[str, str, list[Edit], str]:
    """A few lines edited, one review cycle made vague, and a paragraph added after
    them that uses the same review cycle elsewhere."""
    b = Builder()
    cycle = rng.choice(CYCLES)
    b.same(f"## 1. {rng.choice(OBJECTS).capitalize()}\n")
    for _ in range(4):
        b.same(" ".join(paragraph(rng)) + "\n")
    lines = [sentence(rng) for _ in range(rng.randint(3, 5))]
    target = rng.randrange(len(lines))
    edited = set(rng.sample([i for i in range(len(lines)) if i != target], 2))
    for index, text in enumerate(lines):
        if index == target:
            subject, verb, obj = rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)
            b.same(f"{subject} {rng.choice(MODALS)} {verb} {obj} ")
            b.edit("mixed", cycle, rng.choice(VAGUE))
            b.same(".")
        elif index in edited:
            edited_sentence(rng, b, text, "mixed")
        else:
            b.same(text)
        b.same("\n")
    added = " ".join(paragraph(rng) + paragraph(rng)).replace(".", f" {cycle}.", 1)
    b.edit("mixed", "", added + "\n")
    b.same("\n".join(" ".join(paragraph(rng)) for _ in range(4)))
    old, new = b.texts()
    return old, new, b.edits, cycle


def clause_pair(rng: random.Random) -> tuple[str, str, list[Edit]]:
    b = Builder()
    b.same("## Commitments\n")
    for _ in range(6):
        for index, text in enumerate(paragraph(rng)):
            if index:
                b.same(" ")
            if rng.random() < 0.25:
                b.same(text[:-1])
                b.edit("clause", "", rng.choice(CLAUSES))
                b.same(".")
            else:
                b.same(text)
        b.same("\n")
    old, new = b.texts()
    return old, new, b.edits


def split_merge_pair(rng: random.Random) -> tuple[str, str, list[Edit]]:
    b = Builder()
    b.same("## Process\n")
    for _ in range(6):
        sentences = paragraph(rng)
        index = 0
        while index < len(sentences):
            if index:
                b.same(" ")
            text = sentences[index]
            if index + 1 < len(sentences) and rng.random() < 0.3:
                following = sentences[index + 1]
                b.same(text[:-1])
                if rng.random() < 0.5:  # merged
                    b.edit("split/merge", ". " + following[0], ", and " + following[0].lower())
                else:  # the other way round: split in two
                    b.edit("split/merge", ", and " + following[0].lower(), ". " + following[0])
                b.same(following[1:])
                index += 2
                continue
            b.same(text)
            index += 1
        b.same("\n")
    old, new = b.texts()
    return old, new, b.edits


def reflow_pair(rng: random.Random) -> tuple[str, str, list[Edit]]:
    b = Builder()
    b.same("## Safeguards\n")
    starts: list[tuple[int, int, int, int]] = []  # paragraph places, to wrap them
    for _ in range(6):
        old_start, new_start = b.old_len, b.new_len
        for index, text in enumerate(paragraph(rng)):
            if index:
                b.same(" ")
            if rng.random() < 0.3:
                edited_sentence(rng, b, text, "reflow")
            else:
                b.same(text)
        starts.append((old_start, b.old_len, new_start, b.new_len))
        b.same("\n")
    old, new = b.texts()
    # Re-wrapping turns spaces into line breaks: the edits keep their places.
    for old_start, old_end, new_start, new_end in starts:
        old = wrap(old, old_start, old_end, 70)
        new = wrap(new, new_start, new_end, 84)
    return old, new, b.edits


def wrap(text: str, start: int, end: int, width: int) -> str:
    chars = list(text)
    column = 0
    last_space = -1
    for index in range(start, end):
        if chars[index] == " ":
            last_space = index
        column += 1
        if column > width and last_space >= 0:
            chars[last_space] = "\n"
            column = index - last_space
            last_space = -1
    return "".join(chars)


# --------------------------------------------------------------------------- measure


def line_offsets(text: str) -> list[int]:
    offsets = [0]
    for index, char in enumerate(text):
        if char == "\n":
            offsets.append(index + 1)
    return offsets


@dataclass
class Shown:
    """What a hunk shows: its marks (side, start, end, op index) or its whole lines."""

    hunk: Hunk
    length: int  # all of its removed and added lines
    old: tuple[int, int]
    new: tuple[int, int]
    marks: list[tuple[str, int, int, int]]
    spans: list[tuple[int, int]]  # per op: (old chars, new chars)


def shown(change: Change, old: str, new: str) -> list[Shown]:
    old_at, new_at = line_offsets(old), line_offsets(new)
    out = []
    for hunk in change.hunks:
        o = old_at[hunk.old_start] if hunk.old_start < len(old_at) else len(old)
        n = new_at[hunk.new_start] if hunk.new_start < len(new_at) else len(new)
        o_end = o + len("\n".join(hunk.old_lines))
        n_end = n + len("\n".join(hunk.new_lines))
        marks: list[tuple[str, int, int, int]] = []
        spans: list[tuple[int, int]] = []
        x, y = o, n
        for index, op in enumerate(hunk.words):
            size = len(op.text)
            if op.op == "equal":
                spans.append((size, size))
                x, y = x + size, y + size
            elif op.op == "delete":
                if op.text.strip():
                    marks.append(("old", x, x + size, index))
                spans.append((size, 0))
                x += size
            else:
                if op.text.strip():
                    marks.append(("new", y, y + size, index))
                spans.append((0, size))
                y += size
        length = sum(len(line) for line in hunk.old_lines + hunk.new_lines)
        out.append(Shown(hunk, length, (o, o_end), (n, n_end), marks, spans))
    return out


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1]:
        return False
    return a[0] < b[1] and b[0] < a[1]


def covering(edit: Edit, views: list[Shown]) -> tuple[int, bool] | None:
    """The smallest length shown around `edit`, and whether it is word-marked."""
    best: tuple[int, bool] | None = None
    for view in views:
        touches_old = edit.old[1] > edit.old[0] and overlaps(edit.old, view.old)
        touches_new = edit.new[1] > edit.new[0] and overlaps(edit.new, view.new)
        if not (touches_old or touches_new):
            continue
        hit = [
            index
            for side, start, end, index in view.marks
            if overlaps((start, end), edit.old if side == "old" else edit.new)
        ]
        if hit:
            stretch = view.spans[min(hit) : max(hit) + 1]
            candidate = (sum(a + b for a, b in stretch), True)
        else:
            candidate = (view.length, False)
        if best is None or candidate[0] < best[0]:
            best = candidate
    return best


def main() -> None:
    rng = random.Random(SEED)
    ratios: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    mixed_checks = {"pairs": 0, "all marked": 0, "no large_rewrite": 0, "cycle kept": 0}
    pairs: list[tuple[str, str, str, list[Edit], str | None]] = []
    for _ in range(12):
        pairs.append(("rewrite", *rewrite_pair(rng), None))
    for _ in range(40):
        old, new, edits, cycle = mixed_pair(rng)
        pairs.append(("mixed", old, new, edits, cycle))
    for _ in range(12):
        pairs.append(("clause", *clause_pair(rng), None))
        pairs.append(("split/merge", *split_merge_pair(rng), None))
        pairs.append(("reflow", *reflow_pair(rng), None))
    for kind, old, new, edits, cycle in pairs:
        change = diff(old, new)
        assert change is not None
        views = shown(change, old, new)
        marked_all = True
        for edit in edits:
            found = covering(edit, views)
            if found is None:
                missed[kind] = missed.get(kind, 0) + 1
                continue
            ratios.setdefault(kind, []).append(found[0] / max(edit.size, 1))
            if edit.old[1] > edit.old[0] and edit.new[1] > edit.new[0] and not found[1]:
                marked_all = False  # an edit inside a sentence shown as whole lines
        if kind == "mixed" and cycle is not None:
            result = analyse(old, new, change=change)
            kinds = {signal.kind for signal in result.signals}
            kept = any(
                signal.old is not None and cycle in signal.old and signal.kind != "large_rewrite"
                for signal in result.signals
            )
            mixed_checks["pairs"] += 1
            mixed_checks["all marked"] += marked_all
            mixed_checks["no large_rewrite"] += "large_rewrite" not in kinds
            mixed_checks["cycle kept"] += kept

    print("| edits | count | median ratio | 90th percentile | not covered |")
    print("|---|---:|---:|---:|---:|")
    everything: list[float] = []
    for kind, values in ratios.items():
        everything += values
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        print(
            f"| {kind} | {len(values)} | {statistics.median(values):.2f} | {p90:.2f} "
            f"| {missed.get(kind, 0)} |"
        )
    print(f"| all | {len(everything)} | {statistics.median(everything):.2f} | | |")
    checks = mixed_checks
    print(
        f"\nmixed edits ({checks['pairs']} pairs): every edit word-marked in "
        f"{checks['all marked']}, no large_rewrite in {checks['no large_rewrite']}, "
        f"vague review cycle reported in {checks['cycle kept']}"
    )


if __name__ == "__main__":
    main()
