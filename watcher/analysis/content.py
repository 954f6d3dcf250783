"""Policy content removed: a deleted or replaced sentence, list item or table cell that
carries policy content (thresholds, capability levels, mitigations, deployment or
access decisions, oversight bodies), even with no modal word and no number."""

from __future__ import annotations

import re
from collections.abc import Sequence

from watcher.analysis.commitments import MODAL_WORDS, is_prediction
from watcher.analysis.severity import Collector
from watcher.analysis.text import word_set, words
from watcher.analysis.units import Unit, section_of

#: Words of policy content: what a rater reads a policy for.
POLICY = re.compile(
    r"\b(?:thresholds?|capabilit(?:y|ies)|levels?|mitigations?|safeguards?|deploy\w*|access"
    r"|restrict\w*|oversight|board|council|committee|officer|team|evaluat\w+|red[- ]team\w*"
    r"|security|weights|halt\w*|paus\w+|approv\w+|sign-off|audit\w*|incidents?|prohibit\w*"
    r"|controls?|risks?|release\w*|train\w*|monitor\w*|containment|protections?)\b",
    re.IGNORECASE,
)
_NOISE = word_set(
    "a an the this that these those it its our we us their they of to for and or in on at by "
    "with from as be is are was were been being also which who all any each every no not do "
    "does other such than then there here into onto about more most see appendix annex section "
    "table figure page footnote chapter part"
)


def _content(text: str) -> set[str]:
    return {
        word
        for word in words(text)
        if word not in _NOISE and word not in MODAL_WORDS and len(word) > 2
    }


def content_signals(
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    collector: Collector,
    rewrite: bool = False,
) -> None:
    """Policy content deleted, or replaced in an aligned pair, that no other signal named.

    In a large rewrite, the deleted sentences are the rewrite's (one signal says it).
    """
    for a in () if rewrite else deleted:
        if a.is_heading or a.text in collector.touched or is_prediction(a.text):
            continue
        if POLICY.search(a.text) and len(a.words) >= 3:
            collector.add("content_removed", a.section, a.text, None, "deleted", a.where)
    for a, b in pairs:
        if a.text in collector.touched or b.text in collector.touched or is_prediction(a.text):
            continue
        dropped = _content(a.text) - _content(b.text)
        policy_dropped = [word for word in dropped if POLICY.fullmatch(word)]
        if POLICY.search(a.text) and (policy_dropped or len(dropped) >= 2):
            shown = sorted(policy_dropped or dropped)[:4]
            detail = "dropped " + ", ".join(f"'{word}'" for word in shown)
            collector.add("content_removed", section_of(a, b), a.text, b.text, detail, b.where)
