"""The word level of the diff: which words of a replaced line or block were
deleted and inserted, and the matching helpers every level of the diff shares.

Word marks are a presentation aid, capped (`MAX_BLOCK_TOKENS`,
`MAX_MATCH_WORK`) so that a hostile or rewritten document cannot make a check
take seconds: past the caps a hunk simply has no word marks. detect.py calls
this module for each replaced block, or each aligned pair of sentences.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from difflib import SequenceMatcher
from itertools import groupby

from watcher.models import WordOp

log = logging.getLogger(__name__)

#: Word marks are skipped when, past the common start and end, more tokens
#: than this (words and runs of punctuation: ~2,000 words of prose) differ on
#: either side of a replaced line or block: matching words is quadratic.
MAX_BLOCK_TOKENS = 3000

#: Upper bound on the first matching pass of `SequenceMatcher` (the sum, over
#: distinct tokens, of occurrences in old × occurrences in new). Text from a
#: small vocabulary makes the matcher quadratic even below the token cap; past
#: this bound word marks are skipped, and the line level turns on `autojunk`.
MAX_MATCH_WORK = 1_000_000

#: Word marks are kept when at least this share of the tokens is unchanged;
#: below it, a rewritten paragraph reads better as removed and added lines.
MIN_SIMILARITY = 0.5

# One token per word (with internal hyphens, apostrophes, decimal points:
# "risk-based", "don't", "1,000.5"), per run of punctuation, or per line break,
# each carrying the spaces that follow it so that joining tokens gives back the
# text and markers can wrap a word without its trailing space. The quantifiers
# are possessive (they never give back): the greedy match always succeeds,
# since all that follows it is optional, and not keeping backtracking points
# makes tokenising ~20% faster.
_TOKEN = re.compile(r"\n|[^\S\n]++|(?:\w++(?:[-'’.,:/]\w++)*+|[^\w\s]++)[^\S\n]*+")


def _match_work(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The cost of SequenceMatcher's first longest-match pass over a and b, or
    len(a) * len(b) (a bound on it) when that is within MAX_MATCH_WORK."""
    if len(a) * len(b) <= MAX_MATCH_WORK:
        # Within the cap either way: no need to count (the common case).
        return len(a) * len(b)
    count_b = Counter(b)
    return sum(n * count_b[key] for key, n in Counter(a).items())


Opcode = tuple[str, int, int, int, int]


def _common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """Lengths of the common head and tail of a and b (not overlapping).

    Most edits touch a few spots: matching only what lies between the equal
    ends makes the common case cheap, and a long run of repeated lines too.
    """
    n, m = len(a), len(b)
    head = 0
    while head < n and head < m and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and tail < m - head and a[n - 1 - tail] == b[m - 1 - tail]:
        tail += 1
    return head, tail


def _with_ends(middle: Sequence[Opcode], head: int, tail: int, n: int, m: int) -> list[Opcode]:
    """Opcodes of the middle part shifted back in place, with the equal ends around them."""
    ops: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    ops += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle]
    if tail:
        ops.append(("equal", n - tail, n, m - tail, m))
    return ops


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _keys(tokens: list[str]) -> list[str]:
    """Tokens as compared: words without their trailing spaces; any run of spaces is one key."""
    keys = list(map(str.rstrip, tokens))
    # Only line breaks and runs of spaces strip to "" (rare: at the start of
    # a text and of each line), so they get their own loop.
    if "" in keys:
        pairs = zip(keys, tokens, strict=True)
        keys = [key or (" " if token != "\n" else token) for key, token in pairs]
    return keys


def _word_count(keys: list[str]) -> int:
    """Tokens that are not spaces or line breaks (the keys of those are " " and "\n" only)."""
    return len(keys) - keys.count(" ") - keys.count("\n")


def _block_word_ops(removed: tuple[str, ...], added: tuple[str, ...]) -> tuple[WordOp, ...]:
    """Word marks for a block of lines replaced by other lines, or () when they would not help."""
    if len(removed) == len(added):
        # As many lines on both sides: most likely each was edited in place,
        # so compare them pair by pair, which reads better and keeps each
        # comparison small however long the block.
        pairs = [_Pair(old, new) for old, new in zip(removed, added, strict=True)]
    else:
        pairs = [_Pair("\n".join(removed), "\n".join(added))]
        if pairs[0].too_costly():
            return ()
    # Similarity in tokens, not words: "alert(" kept from "<script>alert(1)"
    # is a fragment, not a word in common. Matching is what costs, so a block
    # that could not be similar enough even at best (a rewritten paragraph)
    # is not matched at all.
    total = sum(pair.words for pair in pairs)
    if 2 * sum(pair.kept_at_most() for pair in pairs) < MIN_SIMILARITY * total:
        return ()
    ops: list[WordOp] = []
    equal = 0
    for index, pair in enumerate(pairs):
        if index:
            ops.append(WordOp("equal", "\n"))
        pair_ops, kept = pair.word_ops()
        if pair_ops is None:
            # only when comparing line by line: the block goes on without this pair's marks
            ops += [WordOp("delete", pair.old), WordOp("insert", pair.new)]
        else:
            ops += pair_ops
            equal += kept
    if 2 * equal < MIN_SIMILARITY * total:
        return ()
    return tuple(_merge(ops))


class _Pair:
    """An old and a new text split into tokens, their common start and end set aside."""

    __slots__ = (
        "a",
        "b",
        "head",
        "new",
        "new_keys",
        "new_tokens",
        "new_words",
        "old",
        "old_keys",
        "old_tokens",
        "tail",
        "words",
    )

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new
        self.old_tokens = _tokens(old)
        self.new_tokens = _tokens(new)
        self.old_keys = _keys(self.old_tokens)
        self.new_keys = _keys(self.new_tokens)
        #: tokens (not spaces) in the new text, and on both sides
        self.new_words = _word_count(self.new_keys)
        self.words = _word_count(self.old_keys) + self.new_words
        self.head, self.tail = _common_ends(self.old_keys, self.new_keys)
        self.a = self.old_keys[self.head : len(self.old_keys) - self.tail]
        self.b = self.new_keys[self.head : len(self.new_keys) - self.tail]

    def too_costly(self) -> bool:
        a, b = self.a, self.b
        return max(len(a), len(b)) > MAX_BLOCK_TOKENS or _match_work(a, b) > MAX_MATCH_WORK

    def kept_at_most(self) -> int:
        """An upper bound on the tokens (not spaces) `word_ops` keeps: those of
        the common start and end, and those of the middle found on both sides."""
        a, b = self.a, self.b
        kept_middle = 0
        if a and b:
            # Middle tokens of b whose key a has too, spaces aside (loops in C).
            in_a = set(a)
            kept_middle = sum(map(in_a.__contains__, b))
            kept_middle -= sum(b.count(key) for key in (" ", "\n") if key in in_a)
        return self.new_words - _word_count(b) + kept_middle

    def word_ops(self) -> tuple[list[WordOp] | None, int]:
        """Word-level ops turning old into new, and the tokens (not spaces) they keep.

        The ops are None when matching would cost too much.
        """
        if self.too_costly():
            log.debug("word diff skipped: %d/%d tokens differ", len(self.a), len(self.b))
            return None, 0
        old_tokens, new_tokens, new_keys = self.old_tokens, self.new_tokens, self.new_keys
        middle = _opcodes(self.a, self.b)
        ops: list[WordOp] = []
        # The new tokens are the equal ones and the inserted ones.
        kept = self.new_words
        ends = _with_ends(middle, self.head, self.tail, len(self.old_keys), len(new_keys))
        for tag, i1, i2, j1, j2 in ends:
            if tag == "equal":
                # The new text's spacing, so equal + insert ops spell the new text.
                ops.append(WordOp("equal", "".join(new_tokens[j1:j2])))
                continue
            if i1 < i2:
                ops.append(WordOp("delete", "".join(old_tokens[i1:i2])))
            if j1 < j2:
                ops.append(WordOp("insert", "".join(new_tokens[j1:j2])))
                kept -= _word_count(new_keys[j1:j2])
        return ops, kept


def _opcodes(a: list[str], b: list[str]) -> Sequence[Opcode]:
    """`SequenceMatcher(None, a, b, autojunk=False).get_opcodes()`, without building
    a matcher when nothing can match (an empty side, or no token in common: the
    common edit of one word for another)."""
    if not a or not b or set(a).isdisjoint(b):
        tag = "replace" if a and b else ("delete" if a else "insert")
        return [(tag, 0, len(a), 0, len(b))] if a or b else []
    return SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def _merge(ops: Iterable[WordOp]) -> Iterator[WordOp]:
    """Join neighbouring ops of the same kind, dropping empty ones."""
    for kind, group in groupby((op for op in ops if op.text), key=lambda op: op.op):
        yield WordOp(kind, "".join(op.text for op in group))
