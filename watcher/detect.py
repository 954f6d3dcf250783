"""Old text, new text → what changed.

The texts come from extraction: one block (heading, paragraph, list item,
table row) per line. The diff has two levels (STACK.md measured this: ~35 ms
for a 50,000-word document, where one level of words takes seconds):

1. lines: `SequenceMatcher` on whole lines; every non-equal opcode is a hunk
   with the lines it removes and adds, and the heading path it sits under;
2. words (detect_words.py): inside a hunk that replaces lines, a second
   `SequenceMatcher` on word tokens marks what was deleted and inserted,
   when the lines are similar enough for that to read well.

Word marks are a presentation aid; the lines are always exact. The word level
is capped (`MAX_BLOCK_TOKENS`, `MAX_MATCH_WORK`) so a hostile or rewritten
document cannot make a check take seconds: past the cap a hunk simply has no
word marks.

Renderers of a `Change` (terminal, HTML, JSON, a one-line summary) are in
detect_render.py; this module names them too, as its callers know them.
"""

from __future__ import annotations

import bisect
import logging
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from watcher.detect_render import (
    PATH_SEPARATOR,
    change_to_json,
    render_html,
    render_text,
    summary,
)
from watcher.detect_words import (
    MAX_BLOCK_TOKENS,
    MAX_MATCH_WORK,
    MIN_SIMILARITY,
    Opcode,
    _block_word_ops,
    _common_ends,
    _match_work,
    _merge,
    _Pair,
    _with_ends,
)
from watcher.models import Change, ChangeStats, Hunk, WordOp

log = logging.getLogger(__name__)

__all__ = [
    "CONTAIN_MIN",
    "MAX_ALIGN_WORK",
    "MAX_BLOCK_SENTENCES",
    "MAX_BLOCK_TOKENS",
    "MAX_MATCH_WORK",
    "MIN_SIMILARITY",
    "PAIR_MIN",
    "PATH_SEPARATOR",
    "change_to_json",
    "diff",
    "render_html",
    "render_text",
    "summary",
    "with_pages",
]

#: Past this many sentences on either side, a replaced block is not aligned
#: sentence by sentence: it is one hunk, word-marked as a whole when small enough.
MAX_BLOCK_SENTENCES = 20_000

#: Sentence pairs scored in one run of changed sentences; a longer run pairs
#: neighbouring sentences in order (bounds the work on a rewritten document).
MAX_ALIGN_WORK = 2500

#: Sentences pair when this share of their words is common (Dice coefficient)…
PAIR_MIN = 0.5
#: …or when this share of the shorter one is in the longer (a clause appended).
CONTAIN_MIN = 0.8

_HEADING = re.compile(r"(#{1,6}) +(.*?)(?: +#+)? *")

# ---------------------------------------------------------------------------
# diff


def diff(
    old: str,
    new: str,
    old_pages: Sequence[int] | None = None,
    new_pages: Sequence[int] | None = None,
) -> Change | None:
    """None when the texts are equal; otherwise the hunks and stats.

    `old_pages`/`new_pages` are the page maps of PDF texts (the page each
    line starts on; None for HTML): each hunk then says its `pages`.
    """
    change = _diff(old, new)
    if change is None or (old_pages is None and new_pages is None):
        return change
    return with_pages(change, old_pages, new_pages)


def with_pages(
    change: Change, old_pages: Sequence[int] | None, new_pages: Sequence[int] | None
) -> Change:
    """The change with each hunk's `pages`: the pages its added lines start on,
    or its removed lines' for a hunk that only deletes (empty when that side
    has no page map)."""
    hunks = []
    for hunk in change.hunks:
        if hunk.new_lines:
            pages, start, count = new_pages, hunk.new_start, len(hunk.new_lines)
        else:
            pages, start, count = old_pages, hunk.old_start, len(hunk.old_lines)
        found = tuple(sorted(set(pages[start : start + count]))) if pages else ()
        hunks.append(replace(hunk, pages=found))
    return replace(change, hunks=tuple(hunks))


def _diff(old: str, new: str) -> Change | None:
    if old == new:
        return None
    old_lines = _lines(old)
    new_lines = _lines(new)
    new_paths = _heading_paths(new_lines)
    old_paths: list[tuple[str, ...]] | None = None  # only pure deletions need them

    hunks: list[Hunk] = []
    for tag, i1, i2, j1, j2 in _line_opcodes(old_lines, new_lines):
        if tag == "equal":
            continue
        if i1 < i2 and j1 < j2:
            pieces = _aligned_pieces(old_lines[i1:i2], new_lines[j1:j2])
        else:
            pieces = [_Piece(0, i2 - i1, 0, j2 - j1, ())]
        for piece in pieces:
            old_start, new_start = i1 + piece.old_start, j1 + piece.new_start
            removed = tuple(old_lines[old_start : i1 + piece.old_end])
            added = tuple(new_lines[new_start : j1 + piece.new_end])
            if added:
                path = new_paths[new_start]
            else:
                if old_paths is None:
                    old_paths = _heading_paths(old_lines)
                path = old_paths[old_start]
            hunks.append(Hunk(path, old_start, new_start, removed, added, piece.words))
    words_added = words_removed = 0
    for hunk in hunks:
        plus, minus = _changed_words(hunk)
        words_added += plus
        words_removed += minus

    stats = ChangeStats(
        words_added=words_added,
        words_removed=words_removed,
        old_words=_count_words(old),
        new_words=_count_words(new),
    )
    return Change(tuple(hunks), stats)


def _lines(text: str) -> list[str]:
    # Split on "\n" only (not str.splitlines, which also splits on \x1c,
    # \u2028...), so that "\n".join(lines) gives back exactly the text.
    return text.split("\n") if text else []


def _changed_words(hunk: Hunk) -> tuple[int, int]:
    """Words a hunk adds and removes, counted by a diff of its words.

    Not its lines' words, nor its marks' (marks may show a much-edited
    sentence as deleted and inserted whole, for readability): a 12-word run
    replaced by 16 words counts +16/−12 whether those words had lines of their
    own or sat inside one long line, so the count does not depend on where a
    PDF or a page happened to break its lines.
    """
    old = [_word_key(word) for word in " ".join(hunk.old_lines).split()]
    new = [_word_key(word) for word in " ".join(hunk.new_lines).split()]
    if not old or not new:
        return len(new), len(old)
    head, tail = _common_ends(old, new)
    a, b = old[head : len(old) - tail], new[head : len(new) - tail]
    if not a or not b or _match_work(a, b) > MAX_MATCH_WORK:
        return len(b), len(a)  # too costly to match: a rewrite, counted whole
    kept = sum(
        block.size for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    )
    return len(b) - kept, len(a) - kept


_WORD_PUNCTUATION = string.punctuation + "“”‘’«»…"


def _word_key(word: str) -> str:
    """A word as compared: "council." is "council", so a clause appended after it
    adds its own words only (a word all punctuation stays itself)."""
    return word.strip(_WORD_PUNCTUATION) or word


def _count_words(text: str) -> int:
    # The same measure as Extracted.words, so stats compare with versions.words.
    return len(text.split())


def _line_opcodes(old_lines: list[str], new_lines: list[str]) -> list[Opcode]:
    head, tail = _common_ends(old_lines, new_lines)
    a = old_lines[head : len(old_lines) - tail]
    b = new_lines[head : len(new_lines) - tail]
    # autojunk would hide repeated lines (table cells, "- Yes"), so it stays
    # off unless the lines repeat so much that matching turns quadratic.
    autojunk = _match_work(a, b) > MAX_MATCH_WORK
    if autojunk:
        log.debug("line diff: highly repetitive text, autojunk on")
    matcher = SequenceMatcher(None, a, b, autojunk=autojunk)
    return _with_ends(matcher.get_opcodes(), head, tail, len(old_lines), len(new_lines))


def _heading_paths(lines: Sequence[str]) -> list[tuple[str, ...]]:
    """For each line, the chain of headings in effect there (a heading includes itself)."""
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    paths: list[tuple[str, ...]] = []
    for line in lines:
        if line.startswith("#"):
            match = _HEADING.fullmatch(line)
            if match and match.group(2):
                level = len(match.group(1))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, match.group(2)))
                path = tuple(text for _, text in stack)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------
# sentence level


@dataclass(frozen=True)
class _Piece:
    """Lines `old_start:old_end` of a replaced block became `new_start:new_end` (indexes
    inside the block), with word marks (empty: shown as removed and added lines)."""

    old_start: int
    old_end: int
    new_start: int
    new_end: int
    words: tuple[WordOp, ...]


# A sentence ends at '.', '!', '?', ';' or ':' followed by a capital or a
# digit (a run-in heading, 'External access: We will…', ends at its colon),
# and at a line break unless the next line goes on in lower case (a sentence
# wrapped over lines).
_SENTENCE_END = re.compile(r"[.!?;:][\"”’')\]]*[^\S\n]+(?=[\"“‘'(\[]?[A-Z0-9])|\n")
# What a '.' does not end: 'e.g.', 'i.e.', 'U.S.', 'Sec.', an initial, a clause number ('1.', '2.3.').
_NOT_AN_END = re.compile(
    r"(?<!\S)(?:[A-Za-z]|e\.g|i\.e|etc|vs|cf|approx|no|nos|sec|fig|art|para|[A-Za-z](?:\.[A-Za-z])+"
    r"|\d+(?:\.\d+)*)$",
    re.IGNORECASE,
)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of `text` as (start, end), each with the spaces or line break after it:
    joined, they give back the text."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        char = text[match.start()]
        if char == "\n":
            if text[end : end + 1].islower():
                continue
        elif char == "." and _NOT_AN_END.search(text, start, match.start()):
            continue
        spans.append((start, end))
        start = end
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _sentence_key(text: str) -> str:
    """A sentence as compared: spacing and line breaks do not count."""
    return " ".join(text.split())


def _bag(text: str) -> frozenset[str]:
    """The distinct words of a sentence, as the alignment compares them (sets are fast)."""
    return frozenset(_WORDS.findall(text.casefold()))


_WORDS = re.compile(r"\w+")
_LINE_BREAK = re.compile("\n")

Group = tuple[int, int, int, int]  # sentences old[a:b] became new[c:d]


def _aligned_pieces(removed: list[str], added: list[str]) -> list[_Piece]:
    """A block of replaced lines cut into pieces along its sentences.

    Sentences are aligned old ↔ new: equal sentences (however wrapped) match,
    edited ones pair with their old counterpart even when sentences were added
    or removed around them, grew a clause, or were split or merged; the rest
    are deleted or inserted. Word marks are computed inside each pair, and the
    block is cut wherever a line ends on both sides, so each edit is its own
    hunk (an added paragraph is an added line, not part of a rewritten block).
    """
    old_text, new_text = "\n".join(removed), "\n".join(added)
    old_spans, new_spans = _sentence_spans(old_text), _sentence_spans(new_text)
    if not old_spans or not new_spans or max(len(old_spans), len(new_spans)) > MAX_BLOCK_SENTENCES:
        words = _block_word_ops(tuple(removed), tuple(added))
        return [_Piece(0, len(removed), 0, len(added), words)]
    old_keys = [_sentence_key(old_text[a:b]) for a, b in old_spans]
    new_keys = [_sentence_key(new_text[a:b]) for a, b in new_spans]
    groups: list[Group] = []
    equal: set[Group] = set()
    autojunk = _match_work(old_keys, new_keys) > MAX_MATCH_WORK
    matcher = SequenceMatcher(None, old_keys, new_keys, autojunk=autojunk)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(a2 - a1):
                group = (a1 + k, a1 + k + 1, b1 + k, b1 + k + 1)
                groups.append(group)
                equal.add(group)
            continue
        olds = [_bag(old_text[a:b]) for a, b in old_spans[a1:a2]]
        news = [_bag(new_text[a:b]) for a, b in new_spans[b1:b2]]
        groups += [(a1 + x1, a1 + x2, b1 + y1, b1 + y2) for x1, x2, y1, y2 in _pair_run(olds, news)]

    old_lines = _LineIndex(old_text, len(removed))
    new_lines = _LineIndex(new_text, len(added))
    pieces: list[_Piece] = []
    first = 0  # the first group of the current piece
    old_from = new_from = 0  # where it starts, in characters
    groups = _deletes_first(groups)
    for index, (a1, a2, b1, b2) in enumerate(groups):
        old_to = old_spans[a2 - 1][1] if a2 else 0
        new_to = new_spans[b2 - 1][1] if b2 else 0
        if index < len(groups) - 1:
            if not (old_lines.starts_at(old_to) and new_lines.starts_at(new_to)):
                continue
            # sentences deleted and inserted next to each other replace one another
            c1, c2, d1, d2 = groups[index + 1]
            if (a1 == a2 or b1 == b2) and (c1 == c2 or d1 == d2):
                continue
        old_end, new_end = old_lines.clip(old_from, old_to), new_lines.clip(new_from, new_to)
        old_range = (old_lines.at(old_from), old_lines.at(old_to))
        new_range = (new_lines.at(new_from), new_lines.at(new_to))
        if removed[slice(*old_range)] != added[slice(*new_range)]:
            ops = _piece_ops(
                groups[first : index + 1],
                equal,
                (old_text, old_end, old_spans),
                (new_text, new_end, new_spans),
            )
            pieces.append(_Piece(*old_range, *new_range, ops))
        first = index + 1
        old_from, new_from = old_to, new_to
    return pieces


def _deletes_first(groups: list[Group]) -> list[Group]:
    """Groups with each run of unpaired sentences ordered deletions first (as a diff
    reads); a run of one sentence deleted and one inserted is a pair."""
    out: list[Group] = []
    run: list[Group] = []
    for group in [*groups, (-1, -1, -1, -1)]:
        a1, a2, b1, b2 = group
        if a1 >= 0 and (a1 == a2 or b1 == b2):
            run.append(group)
            continue
        if run:
            # old sentences deleted, then new ones inserted, at the run's place
            start_a, start_b = run[0][0], run[0][2]
            end_a, end_b = run[-1][1], run[-1][3]
            if end_a - start_a == 1 and end_b - start_b == 1:
                # one sentence replaced by one other: a pair, word-marked if similar enough
                out.append((start_a, end_a, start_b, end_b))
            else:
                out += [(k, k + 1, start_b, start_b) for k in range(start_a, end_a)]
                out += [(end_a, end_a, k, k + 1) for k in range(start_b, end_b)]
            run = []
        if a1 >= 0:
            out.append(group)
    return out


class _LineIndex:
    """Line numbers of character offsets in a block of lines joined with line breaks."""

    def __init__(self, text: str, lines: int) -> None:
        self.text = text
        self.lines = lines
        self.breaks = [match.start() for match in _LINE_BREAK.finditer(text)]

    def starts_at(self, offset: int) -> bool:
        """Whether a line starts at `offset` (or the text ends there)."""
        return offset in (0, len(self.text)) or self.text[offset - 1] == "\n"

    def at(self, offset: int) -> int:
        """The line `offset` is on; past the end, the number of lines."""
        return (
            self.lines if offset >= len(self.text) else bisect.bisect_right(self.breaks, offset - 1)
        )

    def clip(self, start: int, end: int) -> int:
        """`end` before the line break that separates a piece from the next one."""
        if start < end < len(self.text) and self.text[end - 1] == "\n":
            return end - 1
        return end


def _piece_ops(
    groups: list[Group],
    equal: set[Group],
    old_side: tuple[str, int, list[tuple[int, int]]],
    new_side: tuple[str, int, list[tuple[int, int]]],
) -> tuple[WordOp, ...]:
    """Word ops of a piece's groups of sentences; () when nothing in it is kept.

    Each side is the block's text, where the piece ends in it, and its sentence spans.
    """
    old_text, old_end, old_spans = old_side
    new_text, new_end, new_spans = new_side
    ops: list[WordOp] = []
    for group in groups:
        a1, a2, b1, b2 = group
        old = old_text[old_spans[a1][0] : min(old_spans[a2 - 1][1], old_end)] if a2 > a1 else ""
        new = new_text[new_spans[b1][0] : min(new_spans[b2 - 1][1], new_end)] if b2 > b1 else ""
        if group in equal:
            ops.append(WordOp("equal", new))
        elif old and new:
            ops += _pair_ops(old, new)
        else:
            ops += [WordOp("delete", old), WordOp("insert", new)]
    merged = tuple(_merge(ops))
    if not any(op.op == "equal" and op.text.strip() for op in merged):
        return ()
    return merged


def _pair_ops(old: str, new: str) -> list[WordOp]:
    """Word ops of an aligned pair of sentences, or the old deleted and the new inserted
    when they keep too little in common for marks to read well."""
    pair = _Pair(old, new)
    if not pair.too_costly():
        ops, kept = pair.word_ops()
        old_words = pair.words - pair.new_words
        # A clause appended keeps all of the old sentence but little of the new one.
        if ops is not None and (
            2 * kept >= MIN_SIMILARITY * pair.words
            or kept >= CONTAIN_MIN * min(old_words, pair.new_words)
        ):
            return ops
    return [WordOp("delete", old), WordOp("insert", new)]


def _pair_run(olds: list[frozenset[str]], news: list[frozenset[str]]) -> list[Group]:
    """A run of changed sentences aligned in order: pairs (one to one, or two to one
    for a sentence split or merged) and the sentences left deleted or inserted.

    The alignment keeps the most words in common (dynamic programming over the
    run); a run too long for that pairs neighbours in order.
    """
    n, m = len(olds), len(news)
    if n * m > MAX_ALIGN_WORK:
        return _pair_in_order(olds, news)
    old_twos = [olds[i] | olds[i + 1] for i in range(n - 1)]
    new_twos = [news[j] | news[j + 1] for j in range(m - 1)]
    best = [[0] * (m + 1) for _ in range(n + 1)]
    step = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if not i and not j:
                continue
            # deleting or inserting a sentence keeps nothing; ties go to them
            score, move = (best[i - 1][j], (1, 0)) if i else (best[i][j - 1], (0, 1))
            if i and j and best[i][j - 1] > score:
                score, move = best[i][j - 1], (0, 1)
            for di, dj in ((1, 1), (2, 1), (1, 2)):
                if i < di or j < dj:
                    continue
                a = olds[i - 1] if di == 1 else old_twos[i - 2]
                b = news[j - 1] if dj == 1 else new_twos[j - 2]
                kept = _pair_kept(a, b)
                if kept and best[i - di][j - dj] + kept > score:
                    score, move = best[i - di][j - dj] + kept, (di, dj)
            best[i][j], step[i][j] = score, move
    groups: list[Group] = []
    i, j = n, m
    while i or j:
        di, dj = step[i][j]
        if di and dj:
            groups.append((i - di, i, j - dj, j))
        elif di:
            groups.append((i - 1, i, j, j))
        else:
            groups.append((i, i, j - 1, j))
        i, j = i - di, j - dj
    groups.reverse()
    return groups


def _pair_kept(a: frozenset[str], b: frozenset[str]) -> int:
    """Words two sentences have in common when they are similar enough to pair, else 0.

    Similar: half their words in common (Dice), or nearly all of the shorter
    one found in the longer (a clause appended, a sentence that grew a lot).
    """
    la, lb = len(a), len(b)
    if not la or not lb or a.isdisjoint(b):
        return 0
    common = len(a & b)
    if 2 * common >= PAIR_MIN * (la + lb) or (common >= 3 and common >= CONTAIN_MIN * min(la, lb)):
        return common
    return 0


def _pair_in_order(olds: list[frozenset[str]], news: list[frozenset[str]]) -> list[Group]:
    """Bounded alignment of a long run: a sentence pairs with the next one on the other
    side when similar, else with the one after (a sentence added or removed)."""
    groups: list[Group] = []
    i = j = 0
    n, m = len(olds), len(news)
    while i < n and j < m:
        if _pair_kept(olds[i], news[j]):
            groups.append((i, i + 1, j, j + 1))
            i, j = i + 1, j + 1
        elif j + 1 < m and _pair_kept(olds[i], news[j + 1]):
            groups.append((i, i, j, j + 1))
            j += 1
        elif i + 1 < n and _pair_kept(olds[i + 1], news[j]):
            groups.append((i, i + 1, j, j))
            i += 1
        else:
            groups += [(i, i + 1, j, j), (i + 1, i + 1, j, j + 1)]
            i, j = i + 1, j + 1
    groups += [(k, k + 1, m, m) for k in range(i, n)]
    groups += [(n, n, k, k + 1) for k in range(j, m)]
    return groups
