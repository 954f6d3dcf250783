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


#: Exceptions and escape clauses: a commitment that now has a way out.
EXCEPTION = re.compile(
    r"\b(?:unless|except(?:\s+(?:where|when|if|for|as|in))?|with\s+the\s+exception\s+of"
    r"|(?:where|when|as|if)\s+(?:appropriate|feasible|practicable|warranted|necessary|needed)"
    r"|at\s+(?:our|its|their)\s+(?:sole\s+)?discretion|may\s+be\s+(?:determined|decided|adjusted"
    r"|waived|modified|deferred)|(?:may|can)\s+(?:waive|decide\s+otherwise|make\s+exceptions)"
    r"|to\s+the\s+extent\s+(?:possible|practicable|feasible|appropriate|necessary)"
    r"|in\s+exceptional\s+circumstances|on\s+a\s+case[- ]by[- ]case\s+basis"
    r"|reserves?\s+the\s+right|notwithstanding|subject\s+to\s+(?:business|commercial)"
    r"|as\s+(?:we|it)\s+(?:see|sees|deem|deems)\s+fit)\b",
    re.IGNORECASE,
)
# Firm words negated into a release: 'not required', 'no longer necessary', 'need not'.
_RELEASE = re.compile(
    r"\b(?:not|no\s+longer|never)\s+(?:be\s+)?(?:required|mandatory|necessary|needed|obligated"
    r"|obliged|expected)\b|\bneed\s+not\b|\bis\s+optional\b|\bare\s+optional\b",
    re.IGNORECASE,
)
# A prediction is not a promise: 'we believe these systems will create value'.
_PREDICTION = re.compile(
    r"\b(?:believe|believes|think|thinks|anticipate|anticipates|predict|predicts|forecast"
    r"|likely|unlikely|expect\s+that|hope\s+that|it\s+is\s+possible)\b"
    r"|\b(?:systems?|models?|AI|capabilities|technology|technologies|risks?|progress)\s+will\s+"
    r"(?!be\s+\w+ed\b)(?!not\s+be\s+\w+ed\b)",
    re.IGNORECASE,
)
# 'Should it happen that …', 'Should a model exceed …': a condition, not a hedge.
_INVERTED_CONDITION = re.compile(r"^\W*should\s+(?!not\b|we\s+(?:not\s+)?\w+\s+\w+\?)", re.I)


def exceptions(text: str) -> list[str]:
    """The exceptions and escape clauses in `text` ('unless', 'at our discretion', …)."""
    return [match.group(0) for match in EXCEPTION.finditer(text)]


def releases(text: str) -> int:
    """How many firm words `text` negates into a release ('not required', 'need not')."""
    return len(_RELEASE.findall(text))


def is_prediction(text: str) -> bool:
    """Whether `text` forecasts rather than commits ('we believe AI will …')."""
    return bool(_PREDICTION.search(text))


def modality(text: str) -> Modality:
    """Firm and hedged expressions in `text` ('will' in 'goodwill' is not one).

    A prediction has no firm words; a release ('not required') is not firm;
    an inverted condition ('Should it happen that …') is not a hedge.
    """
    if _RELEASE.search(text):
        text = _RELEASE.sub(" ", text)
    if _INVERTED_CONDITION.match(text):
        text = _INVERTED_CONDITION.sub(" ", text, count=1)
    if is_prediction(text):
        return Modality(0, 0, 0, (), ())
    firm = [match.group(0) for match in _FIRM.finditer(text)]
    hedge = [match.group(0) for match in HEDGE.finditer(text)]
    hedge += [match.group(0) for match in _MAY.finditer(text)]
    strong = len(_STRONG.findall(text))
    return Modality(len(firm), strong, len(hedge), tuple(firm), tuple(hedge))


# Verbs of one family, weakest first: a weaker one under the same modal weakens
# ('will be updated at least yearly' → 'will be reviewed at least yearly').
# A rung may hold several verbs ('review|assess'): verbs of one rung are equal.
_VERB_LADDERS = (
    # a stop replaced by a look ('will halt' → 'will review')
    (
        "consider|reconsider",
        "review|assess|evaluate|examine|investigate",
        "halt|stop|pause|suspend|cease|prohibit",
    ),
    ("consider", "review", "update"),
    ("consider", "assess", "revise"),
    ("encourage", "recommend", "require"),
    ("discourage", "restrict", "prohibit"),
    ("aim", "seek", "ensure"),
    ("monitor", "mitigate", "prevent"),
    ("reconsider", "limit", "pause"),
    ("reconsider", "limit", "halt"),
    ("describe", "share", "publish"),
    ("inform", "consult", "notify"),
)
_VERB_RUNGS = tuple(
    {verb: rank for rank, rung in enumerate(ladder) for verb in rung.split("|")}
    for ladder in _VERB_LADDERS
)
_VERB_STRENGTH = frozenset(verb for rungs in _VERB_RUNGS for verb in rungs)


def _lemma(word: str) -> str:
    word = word.lower()
    for suffix, repl in (
        ("ing", ""),
        ("ied", "y"),
        ("ies", "y"),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + repl
            # 'stopped' → 'stop': a doubled final consonant is undone
            undoubled = stem[:-1] if len(stem) > 3 and stem[-1] == stem[-2] else stem
            for candidate in (stem, stem + "e", undoubled):
                if candidate in _VERB_STRENGTH:
                    return candidate
    return word


def verb_change(old: str, new: str) -> tuple[str, str, str] | None:
    """('weakened' or 'strengthened', old verb, new verb) when a verb of a ladder changed."""
    before = [_lemma(w) for w in re.findall(r"[A-Za-z]+", old)]
    after = [_lemma(w) for w in re.findall(r"[A-Za-z]+", new)]
    gone = [w for w in multiset_minus(before, after) if w in _VERB_STRENGTH]
    came = [w for w in multiset_minus(after, before) if w in _VERB_STRENGTH]
    for x in gone:
        for y in came:
            for rungs in _VERB_RUNGS:
                if x in rungs and y in rungs and rungs[x] != rungs[y]:
                    way = "weakened" if rungs[y] < rungs[x] else "strengthened"
                    return (way, x, y)
    return None


def commitment_change(old: str, new: str) -> str | None:
    """'weakened', 'strengthened' or None for an aligned pair of sentences."""
    freed = releases(new) - releases(old)
    if freed:
        return "weakened" if freed > 0 else "strengthened"
    a, b = modality(old), modality(new)
    if (a.firm or a.hedge) and a.firm == b.firm and a.hedge == b.hedge:
        verbs = verb_change(old, new)
        if verbs:
            return verbs[0]
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
    if releases(new) > releases(old):
        return "obligation negated"
    verbs = verb_change(old, new)
    a, b = modality(old), modality(new)
    if verbs and a.firm == b.firm and a.hedge == b.hedge:
        return f"'{verbs[1]}' → '{verbs[2]}'"
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
        if not b.is_heading and releases(b.text):
            collector.add(
                "commitment_weakened", b.section, None, b.text, "obligation negated", b.where
            )
        elif not b.is_heading and mood.firm and not mood.hedge:
            collector.add(
                "commitment_strengthened",
                b.section,
                None,
                b.text,
                f"sentence with '{mood.firm_words[0]}' added",
                b.where,
            )


def exception_signals(
    pairs: Sequence[tuple[Unit, Unit]],
    inserted: Sequence[Unit],
    collector: Collector,
) -> None:
    """Exceptions and escape clauses added to an aligned sentence, or in an added sentence."""
    for a, b in pairs:
        came = multiset_minus(exceptions(b.text), exceptions(a.text))
        if came:
            collector.add(
                "exception_added", section_of(a, b), a.text, b.text, f"'{came[0]}' added", b.where
            )
    for b in inserted:
        found = exceptions(b.text)
        if found and not b.is_heading:
            collector.add(
                "exception_added",
                b.section,
                None,
                b.text,
                f"sentence with '{found[0]}' added",
                b.where,
            )
