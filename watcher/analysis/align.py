"""Old paired with new: sentences aligned by word overlap, quantities and terms netted.

Sentences left after the equal ones cancel are aligned old ↔ new (`align`);
an aligned pair whose only edits are misspellings is cosmetic (`pair_edit`).
Quantities and watched terms are items of the sentences they occur in, netted
(`net`) first within an aligned pair, then within a region, then a section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from watcher.analysis.commitments import MODAL_WORDS
from watcher.analysis.severity import Collector
from watcher.analysis.text import dice, word_set, words
from watcher.analysis.units import Unit, text_of

#: Sentences are aligned old ↔ new when at least this share of their words
#: is common (Dice coefficient on word counts).
ALIGN_MIN = 0.5

#: Candidate pairs scored per hunk before falling back to positional alignment
#: (bounds the work on a rewritten document).
MAX_PAIR_WORK = 2500

# Words that re-punctuating a passage adds or drops: 'We test, and we publish.'
# → 'We test. We publish.'
_CONNECTIVES = frozenset(
    ["and", "but", "also", "so", "then", "which", "that", "this", "it", "its", "they", "we", "or"]
)

# Words whose similar-looking replacement is never a typo fix.
_NOT_TYPO = frozenset(["not", "no", "now", "never", "nor"]) | MODAL_WORDS


def align(olds: list[Unit], news: list[Unit], minimum: float) -> list[tuple[Unit, Unit]]:
    """Greedy best-first pairs of units with word overlap ≥ `minimum`."""
    if not olds or not news:
        return []
    if len(olds) * len(news) > MAX_PAIR_WORK:
        return _align_in_order(olds, news, minimum)
    candidates = []
    for i, a in enumerate(olds):
        for j, b in enumerate(news):
            la, lb = len(a.words), len(b.words)
            if la + lb and 2 * min(la, lb) / (la + lb) < minimum:
                continue  # cannot reach the bar whatever the overlap
            score = dice(a.bag, b.bag)
            if score >= minimum:
                candidates.append((-score, abs(i - j), i, j))
    candidates.sort()
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = []
    for _, _, i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((olds[i], news[j]))
    return pairs


def _align_in_order(olds: list[Unit], news: list[Unit], minimum: float) -> list[tuple[Unit, Unit]]:
    """Pairs along a sequence alignment of the units: bounded work for rewritten text."""
    matcher = SequenceMatcher(None, [u.key for u in olds], [u.key for u in news], autojunk=False)
    pairs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            block_old, block_new = olds[i1:i2], news[j1:j2]
            if len(block_old) * len(block_new) <= MAX_PAIR_WORK:
                pairs += align(block_old, block_new, minimum)
            else:
                pairs += [
                    (a, b)
                    for a, b in zip(block_old, block_new, strict=False)
                    if dice(a.bag, b.bag) >= minimum
                ]
    return pairs


def repunctuated(olds: Sequence[Unit], news: Sequence[Unit]) -> bool:
    """Whether the sentences of a region keep their words but are cut differently."""
    if not olds or not news or len(olds) == len(news):
        return False
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for unit in olds:
        before.update(unit.bag)
    for unit in news:
        after.update(unit.bag)
    difference = (before - after) + (after - before)
    return sum(difference.values()) <= 3 and set(difference) <= _CONNECTIVES


def _is_typo(a: str, b: str) -> bool:
    """Whether replacing word `a` by `b` is a spelling fix, not a change of word."""
    if a == b:
        return True
    if a in _NOT_TYPO and b in _NOT_TYPO:
        return False
    # 'comit' → 'commit' is a fix; 'may' → 'way' is not a fix anyone makes.
    if (a in _NOT_TYPO or b in _NOT_TYPO) and min(len(a), len(b)) < 4:
        return False
    if any(ch.isdigit() for ch in a + b) or min(len(a), len(b)) < 3:
        return False
    return SequenceMatcher(None, a, b).ratio() >= 0.75


def pair_edit(a: Unit, b: Unit) -> int:
    """Words changed between two aligned units, spelling fixes not counted (0: cosmetic).

    The same words in another order (a clause moved) count as no change.
    """
    if a.bag == b.bag:
        return 0
    matcher = SequenceMatcher(None, a.words, b.words, autojunk=False)
    changed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if (
            tag == "replace"
            and i2 - i1 == j2 - j1
            and all(_is_typo(x, y) for x, y in zip(a.words[i1:i2], b.words[j1:j2], strict=True))
        ):
            continue
        changed += max(i2 - i1, j2 - j1)
    return changed


@dataclass
class Item:
    """A quantity or a term occurrence, with the unit it came from."""

    key: Hashable
    group: Hashable  # what it may be netted against first (its pair)
    unit: Unit
    label: str
    kind: str = ""  # for quantities: pairs of the same kind are a change
    role: str = ""  # for quantities: see `numbers.Quantity.role`
    value: float = 0.0


def items_of(
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    inserted: Sequence[Unit],
    find: Callable[[Unit, Hashable], list[Item]],
) -> tuple[list[Item], list[Item], dict[int, Unit]]:
    """The items `find` finds on each side, grouped by pair or by unit.

    Returns the old items, the new items, and each paired unit's partner (by id).
    """
    olds: list[Item] = []
    news: list[Item] = []
    partner: dict[int, Unit] = {}
    for index, (a, b) in enumerate(pairs):
        partner[id(a)], partner[id(b)] = b, a
        olds += find(a, ("pair", index))
        news += find(b, ("pair", index))
    for unit in deleted:
        olds += find(unit, ("unit", id(unit)))
    for unit in inserted:
        news += find(unit, ("unit", id(unit)))
    return olds, news, partner


_GROUP_KEYS: tuple[Callable[[Item], Hashable], ...] = (
    lambda item: item.group,
    lambda item: ("region", item.unit.region),
    lambda item: ("section", item.unit.section),
)


def net(
    olds: list[Item], news: list[Item]
) -> tuple[list[tuple[Item, Item]], list[Item], list[Item]]:
    """Cancel equal items group by group (pair, region, section); pair items of the
    same kind and another value within an aligned pair of sentences only.

    Returns the changed pairs and the items left over on each side.
    """
    changed: list[tuple[Item, Item]] = []
    for level, group_key in enumerate(_GROUP_KEYS):
        by_group: dict[Hashable, tuple[list[Item], list[Item]]] = {}
        for item in olds:
            by_group.setdefault(group_key(item), ([], []))[0].append(item)
        for item in news:
            by_group.setdefault(group_key(item), ([], []))[1].append(item)
        left_old: list[Item] = []
        left_new: list[Item] = []
        for group_old, group_new in by_group.values():
            # equal values cancel
            pool: dict[Hashable, list[Item]] = {}
            for item in group_new:
                pool.setdefault(item.key, []).append(item)
            rest_old = []
            for item in group_old:
                same = pool.get(item.key)
                match = next((other for other in same or () if _related(item, other)), None)
                if match is not None and same is not None:
                    same.remove(match)
                else:
                    rest_old.append(item)
            rest_new = [item for items in pool.values() for item in items]
            rest_new.sort(key=lambda item: (item.unit.region, item.unit.line))
            # same kind, other value: a change, only within an aligned pair
            # (an old number is never paired with an unrelated one elsewhere)
            for item in list(rest_old):
                if not item.kind or level > 0 or item.group[0] != "pair":  # type: ignore[index]
                    continue
                match = next(
                    (
                        other
                        for other in rest_new
                        if other.kind == item.kind and _related(item, other)
                    ),
                    None,
                )
                if match is not None:
                    changed.append((item, match))
                    rest_old.remove(item)
                    rest_new.remove(match)
            left_old += rest_old
            left_new += rest_new
        olds, news = left_old, left_new
    return changed, olds, news


# Words too common to tie a quantity to what it quantifies.
_CONTEXT_NOISE = word_set(
    "a an the this that these those it its our we us their they of to for and or in on at "
    "by with from as be is are was were been being also which who all any each every no not"
)


def _context(item: Item) -> frozenset[str]:
    """The words just before and after an item in its sentence: what it quantifies."""
    text = item.unit.text
    at = text.casefold().find(item.label.casefold())
    if at < 0:
        return frozenset(item.unit.words) - _CONTEXT_NOISE
    near = words(text[:at])[-4:] + words(text[at + len(item.label) :])[:2]
    return frozenset(near) - _CONTEXT_NOISE - MODAL_WORDS


def _related(old: Item, new: Item) -> bool:
    """Whether two items of different sentences may be netted.

    An item of an aligned pair that its partner lost is a real removal even
    if the same value appears in another sentence ('reviewed annually' →
    'reviewed periodically', 'annually' in an added paragraph about another
    matter): it moved only when the words around it came along.
    """
    if old.group == new.group:
        return True
    if old.group[0] != "pair" and new.group[0] != "pair":  # type: ignore[index]
        return True
    return not _context(old).isdisjoint(_context(new))


def report_left_over(
    collector: Collector,
    kind: tuple[str, str],
    gone: Sequence[Item],
    came: Sequence[Item],
    partner: dict[int, Unit],
    gone_severity: str | None = None,
) -> None:
    """Signals of the items `net` left over: `kind` is the (removed, added) signal kind.

    The evidence is the item's sentence and its aligned partner, if any; a
    removed item is placed where its partner is, in the new text.
    """
    for x in gone:
        other = partner.get(id(x.unit))
        collector.add(
            kind[0],
            other.section if other else x.unit.section,
            x.unit.text,
            text_of(other),
            f"'{x.label}' removed",
            (other or x.unit).where,
            severity=gone_severity,
        )
    for y in came:
        other = partner.get(id(y.unit))
        collector.add(
            kind[1], y.unit.section, text_of(other), y.unit.text, f"'{y.label}' added", y.unit.where
        )
