"""Long labelled revisions: generated policy documents of 20+ pages with 20+ annotated changes.

Each document is built from varied templates with a deterministic seed: many
sections of descriptive prose, unchanged commitments, numbers that are not
thresholds (model names, statute and footnote numbers, counts), predictions
and conditionals (the decoys), and the passages the revisions edit. Each
document has three revisions: `full` (every pattern of material change,
annotated, plus decoy edits), `additions` (only additions: not `major`) and
`formatting` (typography, footnote markers, spacing, hyphenation and doubled
runs only: no signal). Used by bench/analysis_quality.py and tests.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

SEED = 20251


@dataclass(frozen=True)
class Annotation:
    """One material change: the sentence before and after, acceptable kinds, direction."""

    old: str | None
    new: str | None
    kinds: frozenset[str]
    direction: str | None = None


@dataclass(frozen=True)
class Revision:
    name: str
    old: str
    new: str
    severity: str
    changes: tuple[Annotation, ...]


DOMAINS = ("biological", "chemical", "cyber", "autonomy", "AI research", "persuasion", "nuclear")
BODIES = (
    "the Board",
    "the Safety Council",
    "the Responsible Scaling Officer",
    "the Risk Committee",
)
ACTORS = ("the evaluation team", "the security team", "an external auditor", "the alignment team")
NOUNS = ("model weights", "training data", "evaluation results", "incident reports", "system cards")
VERBS = ("documents", "tracks", "summarises", "discusses", "describes", "catalogues")
ADJ = ("careful", "thorough", "structured", "independent", "transparent", "iterative")


def _prose(rng: random.Random, n: int) -> list[str]:
    """Descriptive paragraphs: no commitments, numbers that are not thresholds."""
    out = []
    for i in range(n):
        out.append(
            f"This part {rng.choice(VERBS)} how {rng.choice(ACTORS)} approaches "
            f"{rng.choice(NOUNS)} in the {rng.choice(DOMAINS)} domain, item {i}. "
            f"The work of {rng.choice(ACTORS)} is {rng.choice(ADJ)} and draws on "
            f"{rng.choice(['prior research', 'public reports', 'our own experience'])}. "
            f"Results for Model {rng.randint(1, 5)}.{rng.randint(0, 9)} are discussed in "
            f"Section {rng.randint(2, 9)}.{rng.randint(1, 9)} and under Article {rng.randint(5, 60)}."
            f"{rng.randint(1, 9)} We believe these systems will create value for "
            f"{rng.choice(['researchers', 'users', 'society'])} in case {i}."
        )
    return out


def _edits(
    rng: random.Random, d: str, body: str, actor: str
) -> list[tuple[str, str | None, frozenset[str], str | None, bool]]:
    """(old, new, kinds, direction, is_addition) for each pattern, words varied by `rng`."""
    months = rng.choice([(6, 12, "six", "twelve"), (3, 6, "three", "six")])
    flop = rng.choice([(26, 27), (25, 26)])
    n = rng.randint(3, 6)
    return [
        (
            f"We will notify {body} of every {d} evaluation result.",
            f"We aim to notify {body} of every {d} evaluation result.",
            frozenset({"commitment_weakened"}),
            None,
            False,
        ),
        (
            f"{actor.capitalize()} must complete {d} red-teaming before release.",
            f"{actor.capitalize()} should complete {d} red-teaming before release.",
            frozenset({"commitment_weakened"}),
            None,
            False,
        ),
        (
            f"The {d} threshold assessment will be updated at least yearly.",
            f"The {d} threshold assessment will be reviewed at least yearly.",
            frozenset({"commitment_weakened"}),
            None,
            False,
        ),
        (
            f"Additional {d} safeguards are required before deployment.",
            f"Additional {d} safeguards are not required before deployment.",
            frozenset({"commitment_weakened"}),
            None,
            False,
        ),
        (
            f"We will not deploy a model that crosses the {d} threshold.",
            f"We will not deploy a model that crosses the {d} threshold unless we have strong evidence that risks are low.",
            frozenset({"exception_added"}),
            None,
            False,
        ),
        (
            f"We will publish the {d} evaluation summary.",
            f"We will publish the {d} evaluation summary where appropriate.",
            frozenset({"exception_added", "commitment_weakened"}),
            None,
            False,
        ),
        (
            f"Models trained with more than 10^{flop[0]} FLOP are evaluated for {d} risks.",
            f"Models are evaluated for {d} risks.",
            frozenset({"quantitative_removed"}),
            "looser",
            False,
        ),
        (
            f"We re-run the {d} evaluations at least every {months[2]} months.",
            f"We re-run the {d} evaluations at least every {months[3]} months.",
            frozenset({"quantitative_changed"}),
            "looser",
            False,
        ),
        (
            f"At least {n} experts review each {d} evaluation.",
            f"At least {n + 2} experts review each {d} evaluation.",
            frozenset({"quantitative_changed"}),
            "stricter",
            False,
        ),
        (
            f"A {d} harm of more than two hundred casualties defines the critical level.",
            f"A {d} harm of more than one thousand casualties defines the critical level.",
            frozenset({"quantitative_changed"}),
            "looser",
            False,
        ),
        (
            f"The {d} capability threshold is a 50% success rate on the expert tasks.",
            f"The {d} capability threshold is reached when experts judge the uplift significant.",
            frozenset({"quantitative_removed"}),
            "looser",
            False,
        ),
        (
            f"Access to {d} checkpoints is restricted to a named team of researchers.",
            f"Access to {d} checkpoints follows appropriate controls.",
            frozenset({"content_removed"}),
            None,
            False,
        ),
        (
            f"| {d.capitalize()} high risk | Do not deploy |",
            f"| {d.capitalize()} high risk | Conduct an impact assessment |",
            frozenset({"content_removed"}),
            None,
            False,
        ),
        (
            f"The {d} critical capability level covers end-to-end synthesis assistance.",
            None,
            frozenset({"content_removed"}),
            None,
            False,
        ),
        (
            f"This policy applies to all models with {d} capabilities.",
            f"This policy applies only to externally released models with {d} capabilities.",
            frozenset({"scope_changed"}),
            None,
            False,
        ),
        (
            f"We may share {d} findings with partners.",
            f"We will share {d} findings with partners.",
            frozenset({"commitment_strengthened"}),
            None,
            False,
        ),
        (
            None,
            f"We will report {d} incidents to {body} within 72 hours.",
            frozenset({"commitment_strengthened", "quantitative_added"}),
            "stricter",
            True,
        ),
        (
            None,
            f"{actor.capitalize()} will audit {d} safeguards every quarter.",
            frozenset({"commitment_strengthened", "quantitative_added"}),
            "stricter",
            True,
        ),
        (
            None,
            f"We will publish a {d} system card for every frontier model.",
            frozenset({"commitment_strengthened"}),
            None,
            True,
        ),
        (
            f"{body.capitalize()} approves each {d} deployment decision.",
            f"Each {d} deployment decision is recorded.",
            frozenset({"content_removed"}),
            None,
            False,
        ),
        (
            f"{actor.capitalize()} will halt training if {d} warning signs appear.",
            f"{actor.capitalize()} will review training if {d} warning signs appear.",
            frozenset({"commitment_weakened"}),
            None,
            False,
        ),
        (
            None,
            f"Mitigations for {d} risks may be determined when the threshold is reached.",
            frozenset({"exception_added"}),
            None,
            False,
        ),
    ]


def _decoy(line: str) -> str:
    """A non-material edit: names renumbered, a prediction reworded."""
    line = re.sub(
        r"Model (\d)\.(\d)", lambda m: f"Model {m.group(1)}.{(int(m.group(2)) + 1) % 10}", line
    )
    line = re.sub(r"Article (\d+)", lambda m: f"Article {int(m.group(1)) + 1}", line)
    return line.replace("will create value", "will create great value")


def _format(rng: random.Random, line: str) -> str:
    """The same line as another producer might print it: meaning unchanged."""
    choice = rng.randrange(4)
    if choice == 0:
        return line.replace(" - ", " \u2013 ").replace("'", "\u2019")
    if choice == 1:
        return line.replace(". ", ".  ", 1)
    if choice == 2 and len(line.split()) > 6:
        words = line.split(" ")
        at = len(words) // 2
        word = words[at]
        if word.isalpha() and word.islower() and len(word) > 6:
            words[at] = word[:3] + "- " + word[3:]
        return " ".join(words)
    return line


def documents(count: int = 10) -> list[tuple[str, list[Revision]]]:
    """`count` documents, each with its `full`, `additions` and `formatting` revisions."""
    rng = random.Random(SEED)
    out = []
    for number in range(count):
        d, body, actor = rng.choice(DOMAINS), rng.choice(BODIES), rng.choice(ACTORS)
        edits = _edits(rng, d, body, actor)
        rng.shuffle(edits)
        sections = [f"# Frontier Safety Framework {number}"]
        old_lines: list[str] = []
        new_full: list[str] = []
        new_add: list[str] = []
        annotations: list[Annotation] = []
        additions: list[Annotation] = []
        for index in range(24):  # 24 sections of ~450 words: 20+ pages
            heading = f"## {index + 1}. {rng.choice(['Overview of', 'Practice for', 'Notes on'])} {rng.choice(NOUNS)} {index}"
            prose = _prose(rng, 8)
            old_lines += [heading, *prose[:3]]
            new_full += [heading, *prose[:3]]
            new_add += [heading, *prose[:3]]
            if index < len(edits):
                old, new, kinds, way, is_add = edits[index]
                if old is not None:
                    old_lines.append(old)
                    new_add.append(old)
                if new is not None:
                    new_full.append(new)
                    if is_add:
                        new_add.append(new)
                annotations.append(Annotation(old, new, kinds, way))
                if is_add:
                    additions.append(Annotation(old, new, kinds, way))
            # an unchanged commitment next to the edit, and more prose
            keep = f"We will keep records of {rng.choice(NOUNS)} for section {index}."
            old_lines += [keep, *prose[3:]]
            # decoys: model and statute numbers renumbered, a prediction reworded
            new_full += [keep, *(_decoy(line) for line in prose[3:5]), *prose[5:]]
            new_add += [keep, *prose[3:]]
        old = "\n".join(sections + old_lines)
        fmt = "\n".join(sections + [_format(rng, line) for line in old_lines])
        out.append(
            (
                f"document {number}",
                [
                    Revision(
                        "full", old, "\n".join(sections + new_full), "major", tuple(annotations)
                    ),
                    Revision(
                        "additions",
                        old,
                        "\n".join(sections + new_add),
                        "substantive",
                        tuple(additions),
                    ),
                    Revision("formatting", old, fmt, "minor", ()),
                ],
            )
        )
    return out
