"""Scope: edits inside sentences that say what the policy covers or what triggers its consequences."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from watcher.analysis.commitments import HEDGE, MODAL_WORDS, modality
from watcher.analysis.numbers import quantities
from watcher.analysis.severity import Collector
from watcher.analysis.text import word_set, words
from watcher.analysis.units import Unit, section_of

_SCOPE = re.compile(
    r"\b(?:appl(?:y|ies|ied|ying)\s+(?:only\s+)?to|cover(?:s|ed)?|in[- ]scope"
    r"|out[- ]of[- ]scope|(?:within|outside)\s+(?:the\s+)?scope|scope\s+of"
    r"|relat(?:e|es|ed|ing)\s+to|pertain(?:s|ing)?\s+to|exclud(?:e|es|ed|ing)"
    r"|trigger(?:s|ed|ing)?)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(?:if|unless|once|when|whenever|until|provided\s+that)\b", re.I)

# Words a scope comparison ignores: articles and pronouns, the scope verbs
# themselves ('applies to' → 'covers' is a rewording), and modal language
# (judged by the commitment signals).
_SCOPE_NOISE = word_set(
    "a an the this that these those it its our we us their they of to for and or in on at "
    "by with from as be is are was were been being also which who apply applies applied "
    "applying cover covers covered covering relate relates related pertain pertains scope "
    "trigger triggers triggered"
)


def _scope_view(text: str) -> Counter[str]:
    """The words of a scope sentence that carry its meaning (see `_SCOPE_NOISE`)."""
    for quantity in quantities(text):
        text = text.replace(quantity.text, " ")
    text = HEDGE.sub(" ", text)
    view: Counter[str] = Counter()
    for word in words(text):
        if word in _SCOPE_NOISE or word in MODAL_WORDS:
            continue
        view[word[:-1] if len(word) > 3 and word.endswith("s") else word] += 1
    return view


# A coverage sentence narrows when it loses a universal word ('all models'),
# gains 'only', loses an alternative ('match or exceed' → 'exceed') or gains
# qualifiers and loses nothing ('models' → 'frontier models'); it widens on
# the reverse. An exclusion inverts the reading, so it is left undecided.
_UNIVERSAL = word_set("all any every each entire whole")
_ONLY = word_set("only solely exclusively")
_INVERTING = re.compile(r"\b(?:unless|except|exclud\w*|not|no|other\s+than)\b", re.IGNORECASE)


def _alternatives(text: str) -> int:
    return sum(1 for word in words(text) if word in ("and", "or"))


def _coverage_way(
    old_text: str, new_text: str, before: Counter[str], after: Counter[str]
) -> str | None:
    """'narrower', 'wider' or None: what an edit did to what a coverage sentence covers."""
    if not (_SCOPE.search(old_text) and _SCOPE.search(new_text)):
        return None
    if _INVERTING.search(old_text) or _INVERTING.search(new_text) or _CONDITION.search(new_text):
        return None
    dropped, added = set(before - after), set(after - before)
    # alternatives listed ('internal and external', 'match or exceed'): fewer narrow
    alternatives = _alternatives(new_text) - _alternatives(old_text)
    narrower = bool(dropped & _UNIVERSAL or added & _ONLY or alternatives < 0)
    wider = bool(added & _UNIVERSAL or dropped & _ONLY or alternatives > 0)
    if not alternatives:
        narrower = narrower or bool(added and not dropped and not added & _UNIVERSAL)
        wider = wider or bool(dropped and not added and not dropped & _UNIVERSAL)
    if narrower == wider:
        return None
    return "narrower" if narrower else "wider"


def _is_scope(text: str) -> bool:
    if _SCOPE.search(text):
        return True
    return bool(_CONDITION.search(text)) and modality(text).firm > 0


def _scope_detail(old: Counter[str], new: Counter[str]) -> str:
    dropped = sorted((old - new).elements())
    added = sorted((new - old).elements())
    parts = []
    if dropped:
        parts.append("dropped " + ", ".join(f"'{word}'" for word in dropped[:6]))
    if added:
        parts.append("added " + ", ".join(f"'{word}'" for word in added[:6]))
    return "; ".join(parts)


def scope_signals(
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    inserted: Sequence[Unit],
    collector: Collector,
) -> None:
    """Scope sentences edited in aligned pairs, deleted or added."""
    for a, b in pairs:
        if not (_is_scope(a.text) or _is_scope(b.text)):
            continue
        before, after = _scope_view(a.text), _scope_view(b.text)
        if before != after:
            detail = _scope_detail(before, after)
            way = _coverage_way(a.text, b.text, before, after)
            collector.add(
                "scope_changed",
                section_of(a, b),
                a.text,
                b.text,
                f"{detail} ({way})" if way else detail,
                b.where,
                # covering fewer models or uses weakens the policy; more strengthens it
                severity="substantive" if way == "wider" else None,
                direction={"narrower": "looser", "wider": "stricter"}.get(way or ""),
            )
    for a in deleted:
        if not a.is_heading and _SCOPE.search(a.text):
            collector.add(
                "scope_changed", a.section, a.text, None, "scope sentence deleted", a.where
            )
    for b in inserted:
        if not b.is_heading and _SCOPE.search(b.text):
            # an addition widens what is said; it does not narrow a commitment
            collector.add(
                "scope_changed",
                b.section,
                None,
                b.text,
                "scope sentence added",
                b.where,
                severity="substantive",
            )
