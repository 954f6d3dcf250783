"""Commitment language: how firm a sentence is, and the signals of a commitment weakened or strengthened.

Firm words (commit, will, must, shall, require, ensure, guarantee) traded for
hedged ones (expect, may, aim to, should, where appropriate, ...) or back, in
aligned sentences; a deleted firm sentence is a weakened commitment, an added
one (firm, not hedged) a strengthened commitment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.analysis.severity import Collector
from watcher.analysis.text import multiset_minus, word_set
from watcher.analysis.units import Unit, section_of

# Firm words whose loss alone weakens a sentence ('will' dropped for the
# present tense does not: 'we will publish' → 'we publish').
_STRONG_WORDS = (
    r"commit|commits|committed|committing|shall|must|require|requires|required|requiring"
    r"|ensure|ensures|ensured|ensuring|guarantee|guarantees|guaranteed|mandatory|obligated"
)
_STRONG = re.compile(rf"\b(?:{_STRONG_WORDS})\b", re.IGNORECASE)
_FIRM = re.compile(
    rf"\b(?:{_STRONG_WORDS}|will|won['’]t|shan['’]t|mustn['’]t|always|never)\b",
    re.IGNORECASE,
)
#: Hedged language ('may' apart: see `_MAY`).
HEDGE = re.compile(
    r"\b(?:expect|expects|expected|expecting|might|could|should|shouldn['’]t"
    r"|generally|typically|usually|normally|ordinarily"
    r"|(?:aim|aims|aiming|aimed|intend|intends|intending|plan|plans|planning|strive|strives"
    r"|striving|seek|seeks|seeking|hope|hopes|endeavou?rs?|try|tries|attempts?)\s+to"
    r"|(?:where|when|as|if)\s+(?:appropriate|needed|necessary|possible|feasible|practicable"
    r"|relevant|warranted)"
    r"|to\s+the\s+extent\s+(?:possible|practicable|feasible|appropriate|necessary)"
    r"|(?:reasonable|best)\s+efforts|in\s+most\s+cases|at\s+our\s+discretion)\b",
    re.IGNORECASE,
)
# 'may' is hedging; 'May' is usually the month.
_MAY = re.compile(r"\bmay\b")

#: Modal language: what the commitment signals judge, and other comparisons ignore.
MODAL_WORDS = word_set(
    "commit commits committed committing will won't shall shan't must mustn't require "
    "requires required requiring ensure ensures ensured ensuring guarantee guarantees "
    "guaranteed mandatory obligated expect expects expected might could should shouldn't "
    "may generally typically usually normally aim aims intend intends plan plans strive "
    "seek seeks hope appropriate needed necessary possible feasible where when not"
)


@dataclass(frozen=True)
class Modality:
    """How firm a sentence is: counts of firm, strongly firm and hedged expressions."""

    firm: int
    strong: int
    hedge: int
    firm_words: tuple[str, ...]
    hedge_words: tuple[str, ...]


def modality(text: str) -> Modality:
    """Firm and hedged expressions in `text` ('will' in 'goodwill' is not one)."""
    firm = [match.group(0) for match in _FIRM.finditer(text)]
    hedge = [match.group(0) for match in HEDGE.finditer(text)]
    hedge += [match.group(0) for match in _MAY.finditer(text)]
    strong = len(_STRONG.findall(text))
    return Modality(len(firm), strong, len(hedge), tuple(firm), tuple(hedge))


def commitment_change(old: str, new: str) -> str | None:
    """'weakened', 'strengthened' or None for an aligned pair of sentences."""
    a, b = modality(old), modality(new)
    if (b.hedge > a.hedge and b.firm <= a.firm) or (
        b.firm < a.firm and b.hedge >= a.hedge and b.strong < a.strong
    ):
        return "weakened"
    if (b.hedge < a.hedge and b.firm >= a.firm and b.firm > 0) or (
        b.firm > a.firm and b.hedge <= a.hedge and b.strong > a.strong
    ):
        return "strengthened"
    if b.firm > a.firm and b.hedge <= a.hedge and a.firm == 0:
        return "strengthened"
    return None


def _modal_detail(old: str, new: str) -> str:
    a, b = modality(old), modality(new)
    gone = multiset_minus(a.firm_words + a.hedge_words, b.firm_words + b.hedge_words)
    came = multiset_minus(b.firm_words + b.hedge_words, a.firm_words + a.hedge_words)
    if gone and came:
        return f"'{gone[0]}' → '{came[0]}'"
    if gone:
        return f"'{gone[0]}' removed"
    if came:
        return f"'{came[0]}' added"
    return ""


def commitment_signals(
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    inserted: Sequence[Unit],
    collector: Collector,
) -> None:
    """Commitments weakened or strengthened in aligned pairs, deleted and added sentences."""
    for a, b in pairs:
        direction = commitment_change(a.text, b.text)
        if direction:
            collector.add(
                f"commitment_{direction}",
                section_of(a, b),
                a.text,
                b.text,
                _modal_detail(a.text, b.text),
                b.where,
            )
    for a in deleted:
        if not a.is_heading and (words := modality(a.text).firm_words):
            collector.add(
                "commitment_weakened",
                a.section,
                a.text,
                None,
                f"sentence with '{words[0]}' deleted",
                a.where,
            )
    for b in inserted:
        mood = modality(b.text)
        if not b.is_heading and mood.firm and not mood.hedge:
            collector.add(
                "commitment_strengthened",
                b.section,
                None,
                b.text,
                f"sentence with '{mood.firm_words[0]}' added",
                b.where,
            )
