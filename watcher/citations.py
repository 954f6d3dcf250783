"""Criteria → quoted passages, re-anchored on each version.

A rater's grade on a criterion rests on a few quoted passages of a lab's
policy: *citations*. A citation is anchored to the version it was made on:
the quote, a few words of context either side, and the heading path it sits
under. Every new version of the document (or of the file that supersedes
it) re-anchors it:

- `intact`: the quote is there, word for word, under the same headings (and
  no negation or modal verb changed just before it);
- `moved`: the quote is there, word for word, under other headings;
- `changed`: no exact match, but a close one: the old and new passages with
  word-level marks;
- `gone`: nothing matches well enough.

Everything here is pure: texts and anchors in, results out. Texts are the
extractors' normalised Markdown-like text (one block per line, `#` headings).
Matching compares *keys*: words folded the way a reader would not notice
(Unicode compatibility forms, so ligatures; typographic quotes and dashes;
case; a word hyphenated across a line or page break joined again), and
ignores line breaks and punctuation, so re-wrapping, page breaks and
hyphenation never make a quote move or change. Digits, `%` and every word
are kept: a number, a negation or a modal verb that changed is a change.

Finding a quote that is not there word for word: first its place, the words
between what is left of its old neighbours. When the place holds a match,
that is the passage, changed. When the place is gone (the neighbours now
meet, or hold other passages), a match elsewhere is the passage only when
it is clearly closer than the next passage of its kind (MARGIN), or nearly
the quote in its own section: a sentence of the same pattern elsewhere is
not the passage reworded. Otherwise every key of the quote
votes for where the quote would start in the new text (rare keys weigh
more); the few best-voted places are aligned with difflib on keys, and the
best alignment, weighed with how well its context matches, decides between
`changed` and `gone`. The cost per citation is a handful of short
`SequenceMatcher` runs, whatever the length of the document.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

from watcher import escape
from watcher.errors import CitationError

Status = Literal["intact", "moved", "changed", "gone"]
STATUSES: tuple[Status, ...] = ("intact", "moved", "changed", "gone")

#: words of context kept either side of a quote
CONTEXT_WORDS = 12
#: a fuzzy match this close to the quote is `changed` wherever it is
CLOSE = 0.72
#: ... and when its context is unlike the old one, only this close (a sentence of
#: the same kind elsewhere is not the passage reworded)
SAME = 0.9
CONTEXT_FAR = 0.3
#: a match at least this close is `changed` when its context matches too
NEAR = 0.45
#: a match at least this close is `changed` when it sits between the same neighbours
LOOSE = 0.25
#: how well the context must match for NEAR / LOOSE matches
CONTEXT_NEAR = 0.45
CONTEXT_SAME = 0.7
#: places aligned in full for one quote
CANDIDATES = 8
#: a match away from the quote's old place must be this much closer than the next
#: passage of its kind: a sentence of the same pattern is not the passage reworded
MARGIN = 0.15
#: words of an old neighbour looked for, in a row, to find the quote's old place
RUN = 4
#: words before an intact quote whose negations and modal verbs must be the same
LEAD = 6
#: a quote shorter than this many words is refused: it would match anywhere
MIN_WORDS = 3

# Words whose change turns a commitment into something else: a quote that is
# intact word for word but lost (or gained) one of these just before it is `changed`.
MEANING_WORDS = frozenset(
    [
        "not",
        "no",
        "never",
        "nor",
        "without",
        "none",
        "cannot",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "can",
        "could",
        "expect",
        "expects",
        "intend",
        "intends",
        "aim",
        "aims",
        "commit",
        "commits",
        "committed",
        "require",
        "requires",
        "required",
        "only",
        "unless",
        "except",
    ]
)


# Hyphens that join (a compound, or a word broken across a line or page
# break); dashes used as punctuation are spaces.
_HYPHENS = "-\u2010\u2011\ufffe\u00ad"
_TOKEN = re.compile(rf"[^\W_]+(?:(?:[{_HYPHENS}]\s*|['’.,])[^\W_]+)*%?")
_FOLD_MAP: dict[int, str | None] = {ord(h): None for h in _HYPHENS} | {
    ord(k): v
    for k, v in {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
    }.items()
}
_FOLD = str.maketrans(_FOLD_MAP)
_SPACES = re.compile(r"\s+")
_HEADING = re.compile(r"(#{1,6}) +(.*?)(?: +#+)? *")
_NUMBERING = re.compile(r"^(?:(?:section|part|appendix)\s+)?[\divxlc]+(?:\.[\divxlc]+)*[.):]?\s+")
PATH_SEPARATOR = " › "
# after a word, what ends its sentence (or its block: the end of the text is "")
_SENTENCE_END = frozenset((".", "!", "?", ";", ":", "\n", ""))


def key(token: str) -> str:
    """One word as compared: compatibility forms (ligatures), plain apostrophes,
    no hyphens or line breaks inside, lower case."""
    if not token.isascii():
        token = unicodedata.normalize("NFKC", token)
    return _SPACES.sub("", token.translate(_FOLD)).lower()


def keys(text: str) -> list[str]:
    """The words of `text` as compared (punctuation and spacing ignored)."""
    return [key(match.group()) for match in _TOKEN.finditer(text)]


def path_text(path: Sequence[str]) -> str:
    return PATH_SEPARATOR.join(path)


def _path_key(path: Sequence[str]) -> tuple[str, ...]:
    """A heading path as compared: without section numbers (renumbering is not a move)."""
    return tuple(" ".join(keys(_NUMBERING.sub("", h.strip().lower()))) for h in path)


# --- documents ----------------------------------------------------------------


@dataclass
class Document:
    """A version's text, ready for matching: every word's key, where it is in
    the text, and the heading path of its line (headings themselves are not
    quotable words)."""

    text: str
    keys: list[str]
    spans: list[tuple[int, int]]  # (start, end) of each word in `text`
    paths: list[tuple[str, ...]]  # per word
    joined: str  # " key key key " for exact search
    starts: list[int]  # offset of each key in `joined`
    ends: list[int]  # words after which a sentence (or a line) ends, in order
    _index: dict[str, list[int]] | None = None

    @property
    def index(self) -> dict[str, list[int]]:
        if self._index is None:
            index: dict[str, list[int]] = defaultdict(list)
            for i, word in enumerate(self.keys):
                index[word].append(i)
            self._index = dict(index)
        return self._index

    def passage(self, start: int, end: int) -> str:
        """The text of words start..end (end excluded), as written, on one line."""
        if start >= end:
            return ""
        return " ".join(self.text[self.spans[start][0] : self.spans[end - 1][1]].split())

    def context(self, start: int, end: int) -> tuple[list[str], list[str]]:
        return (
            self.keys[max(0, start - CONTEXT_WORDS) : start],
            self.keys[end : end + CONTEXT_WORDS],
        )

    def lead(self, start: int) -> list[str]:
        """Up to LEAD words before `start` within its sentence."""
        at = bisect.bisect_left(self.ends, start) - 1
        first = self.ends[at] + 1 if at >= 0 else 0
        return self.keys[max(first, start - LEAD) : start]

    def find_all(self, quote: Sequence[str]) -> list[int]:
        """Every word index where the keys of `quote` occur in a row."""
        if not quote:
            return []
        needle = " " + " ".join(quote) + " "
        found: list[int] = []
        at = self.joined.find(needle)
        while at != -1:
            found.append(bisect.bisect_left(self.starts, at + 1))
            at = self.joined.find(needle, at + 1)
        return found


def document(text: str) -> Document:
    """Prepare a version's text for matching."""
    line_starts: list[int] = []
    line_paths: list[tuple[str, ...] | None] = []  # None: a heading line
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    offset = 0
    for line in text.split("\n"):
        line_starts.append(offset)
        offset += len(line) + 1
        if line.startswith("#") and (match := _HEADING.fullmatch(line)) and match.group(2):
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2)))
            path = tuple(name for _, name in stack)
            line_paths.append(None)
        else:
            line_paths.append(path)
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    paths: list[tuple[str, ...]] = []
    starts: list[int] = []
    ends: list[int] = []
    length = 1
    at = 0  # the line of the current word
    for match in _TOKEN.finditer(text):
        begin = match.start()
        while at + 1 < len(line_starts) and line_starts[at + 1] <= begin:
            at += 1
        where = line_paths[at]
        if where is None:
            continue
        word = key(match.group())
        words.append(word)
        spans.append((begin, match.end()))
        paths.append(where)
        starts.append(length)
        length += len(word) + 1
        if text[match.end() : match.end() + 1] in _SENTENCE_END:
            ends.append(len(words) - 1)
    joined = " " + " ".join(words) + " "
    return Document(text, words, spans, paths, joined, starts, ends)


# --- anchors and placements -----------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """Where a citation stands in the version it was made on (or last moved to)."""

    quote: str  # the passage as written in that version
    before: str  # up to CONTEXT_WORDS keys before it, space-separated
    after: str  # and after it
    heading_path: tuple[str, ...]
    page: int | None = None  # for texts that carry pages
    lead: str = ""  # the words of its sentence just before it (up to LEAD)

    def to_json(self) -> dict[str, object]:
        return {
            "quote": self.quote,
            "before": self.before,
            "after": self.after,
            "heading_path": list(self.heading_path),
            "page": self.page,
            "lead": self.lead,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Anchor:
        path = data.get("heading_path") or []
        page = data.get("page")
        return cls(
            quote=str(data["quote"]),
            before=str(data.get("before") or ""),
            after=str(data.get("after") or ""),
            heading_path=tuple(str(h) for h in path) if isinstance(path, list) else (),
            page=page if isinstance(page, int) else None,
            lead=str(data.get("lead") or ""),
        )


Mark = tuple[str, str]  # ("=" | "-" | "+", text)


@dataclass(frozen=True)
class Placement:
    """What re-anchoring found in a new version."""

    status: Status
    quote: str  # the new passage ("" when gone)
    heading_path: tuple[str, ...]
    score: float  # 1.0 for a word-for-word match
    marks: tuple[Mark, ...] = ()  # old quote → new passage, word by word (changed)
    anchor: Anchor | None = None  # the new anchor, to move the citation to (None when gone)

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "quote": self.quote or None,
            "heading_path": list(self.heading_path),
            "score": round(self.score, 3),
            "marks": [list(mark) for mark in self.marks],
            "anchor": self.anchor.to_json() if self.anchor else None,
        }


def _anchor_at(doc: Document, start: int, end: int, pages: Sequence[int] | None = None) -> Anchor:
    before, after = doc.context(start, end)
    page = None
    if pages and start < len(doc.spans):
        line = doc.text.count("\n", 0, doc.spans[start][0])
        page = pages[line] if line < len(pages) else None
    return Anchor(
        quote=doc.passage(start, end),
        before=" ".join(before),
        after=" ".join(after),
        heading_path=doc.paths[start] if start < len(doc.paths) else (),
        page=page,
        lead=" ".join(doc.lead(start)),
    )


def anchor(
    text: str, quote: str, *, section: str | None = None, pages: Sequence[int] | None = None
) -> Anchor:
    """Anchor `quote` in a version's text, or refuse with what to do instead.

    `pages`, the page each line of a PDF's text starts on, gives the anchor its page.

    Refused: a quote of fewer than MIN_WORDS words; a quote that is not in
    the text (the closest passage is named); a quote found more than once
    (the heading paths are named: pass `section`, a part of one of them).
    """
    wanted = keys(quote)
    if len(wanted) < MIN_WORDS:
        raise CitationError(
            f"a quote needs at least {MIN_WORDS} words to be found again (got {len(wanted)})"
        )
    doc = document(text)
    hits = doc.find_all(wanted)
    if section is not None:
        needle = " ".join(keys(section))
        hits = [h for h in hits if needle in " ".join(keys(path_text(doc.paths[h])))]
    if not hits:
        closest = _fuzzy(doc, wanted, [], [], (), anchor_check=False)
        hint = (
            f"; closest passage (under {_where(closest.heading_path)}): {escape.quote(closest.quote)}"
            if closest.quote
            else ""
        )
        inside = f" under a heading matching {section!r}" if section is not None else ""
        raise CitationError(f"quote not found{inside}{hint}")
    if len(hits) > 1:
        places = "; ".join(_where(doc.paths[h]) for h in hits[:10])
        raise CitationError(
            f"quote found {len(hits)} times, under: {places}; "
            "say which with --section (part of a heading)"
        )
    start = hits[0]
    return _anchor_at(doc, start, start + len(wanted), pages)


def _where(path: Sequence[str]) -> str:
    return escape.quote(path_text(path)) if path else "no heading"


def reanchor(old: Anchor, doc: Document) -> Placement:
    """Find `old` in a new version: intact, moved, changed or gone."""
    wanted = keys(old.quote)
    before, after = old.before.split(), old.after.split()
    if not wanted:
        return Placement("gone", "", (), 0.0)
    hits = doc.find_all(wanted)
    if hits:
        same = _path_key(old.heading_path)
        n = len(wanted)

        def rank(start: int) -> tuple[bool, float]:
            got_before, got_after = doc.context(start, start + n)
            return (
                _path_key(doc.paths[start]) == same,
                _context_score(before, after, got_before, got_after),
            )

        start = max(hits, key=rank)
        found = _anchor_at(doc, start, start + n)
        status: Status = "intact" if _path_key(found.heading_path) == same else "moved"
        marks: tuple[Mark, ...] = ()
        # 'We will not' + 'deploy the model' is not 'We will' + 'deploy the model'
        lead_old, lead_new = old.lead.split(), found.lead.split()
        if set(lead_old) & MEANING_WORDS != set(lead_new) & MEANING_WORDS:
            status = "changed"
            marks = word_marks(" ".join([*lead_old, old.quote]), " ".join([*lead_new, found.quote]))
        return Placement(status, found.quote, found.heading_path, 1.0, marks, found)
    return _fuzzy(doc, wanted, before, after, old.heading_path, old_quote=old.quote)


def _context_score(
    before: Sequence[str], after: Sequence[str], got_before: Sequence[str], got_after: Sequence[str]
) -> float:
    scores = []
    if before:
        scores.append(SequenceMatcher(None, before, got_before, autojunk=False).ratio())
    if after:
        scores.append(SequenceMatcher(None, after, got_after, autojunk=False).ratio())
    return sum(scores) / len(scores) if scores else 0.0


# a key found more often than this votes for nothing (articles, 'the', 'and')
_COMMON = 400


def _candidates(
    doc: Document, wanted: Sequence[str], before: Sequence[str], after: Sequence[str]
) -> list[int]:
    """Where the quote most likely starts: each key votes for its offset,
    rare keys louder; context keys vote for the place between them."""
    n = len(wanted)
    bucket = max(2, n // 4)
    votes: defaultdict[int, float] = defaultdict(float)
    index = doc.index

    def vote(word: str, shift: int, weight: float) -> None:
        found = index.get(word)
        if not found or len(found) > _COMMON:
            return
        w = weight / math.log2(2 + len(found))
        for pos in found:
            votes[(pos - shift) // bucket] += w

    for i, word in enumerate(wanted):
        vote(word, i, 1.0)
    for j, word in enumerate(before):
        vote(word, j - len(before), 0.6)
    for j, word in enumerate(after):
        vote(word, n + j, 0.6)
    top = sorted(votes.items(), key=lambda item: -item[1])[:CANDIDATES]
    return [b * bucket for b, _ in top]


def _span(doc: Document, wanted: Sequence[str], lo: int, hi: int) -> tuple[int, int, float]:
    """The best-aligned span of doc words within lo..hi, and its similarity to the quote."""
    window = doc.keys[lo:hi]
    matcher = SequenceMatcher(None, wanted, window, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return lo, lo, 0.0
    n = len(wanted)

    def score(bs: Sequence[tuple[int, int, int]]) -> float:
        matched = sum(b[2] for b in bs)
        length = bs[-1][1] + bs[-1][2] - bs[0][1]
        return 2 * matched / (n + length)

    chosen: list[tuple[int, int, int]] = [tuple(b) for b in blocks]  # type: ignore[misc]
    best = score(chosen)
    # stray one-word matches at the ends stretch the span: drop them while that helps
    while len(chosen) > 1:
        options = [chosen[1:], chosen[:-1]]
        top = max(options, key=score)
        if score(top) <= best:
            break
        chosen, best = top, score(top)
    start = lo + chosen[0][1]
    end = lo + chosen[-1][1] + chosen[-1][2]
    return start, end, best


def _fuzzy(
    doc: Document,
    wanted: Sequence[str],
    before: Sequence[str],
    after: Sequence[str],
    heading_path: Sequence[str],
    *,
    anchor_check: bool = True,
    old_quote: str = "",
) -> Placement:
    n = len(wanted)
    place = _place(doc, before, after, n) if anchor_check else None
    if place is not None:
        a, b = place
        s, e, similarity = _span(doc, wanted, a, b) if b > a else (a, a, 0.0)
        if e > s and similarity >= LOOSE and b - a <= 2 * n + RUN:
            # between its old neighbours, reworded: the passage itself, whole
            # (not only its best-kept words)
            similarity = SequenceMatcher(None, wanted, doc.keys[a:b], autojunk=False).ratio()
            return _changed(doc, a, b, similarity, old_quote)
        # a place much longer than the quote holds other passages too: what matches
        # in it is weighed like a match anywhere else
    spans: list[tuple[int, int, float, float]] = []  # (start, end, similarity, context)
    for start in _candidates(doc, wanted, before, after):
        lo, hi = max(0, start - n // 2 - 2), min(len(doc.keys), start + n + n // 2 + 2)
        s, e, similarity = _span(doc, wanted, lo, hi)
        if e > s:
            got_before, got_after = doc.context(s, e)
            spans.append((s, e, similarity, _context_score(before, after, got_before, got_after)))
    if not spans:
        return Placement("gone", "", (), 0.0)
    if not anchor_check:
        s, e, similarity, _ = max(spans, key=lambda span: span[2])
        return _changed(doc, s, e, similarity, old_quote)
    s, e, similarity, context = max(spans, key=lambda span: (_decide(*span[2:]), span[2]))
    if _decide(similarity, context) <= 0:
        return Placement("gone", "", (), similarity)
    same_section = _path_key(doc.paths[s]) == _path_key(heading_path)
    if context < CONTEXT_SAME and not (same_section and similarity >= SAME):
        # its own place is gone (or unknown) and this match stands among strangers: it
        # rescues the passage only when clearly closer than the next passage of its kind,
        # or nearly the quote itself in the quote's own section
        others = [sim for s2, e2, sim, _ in spans if e2 <= s or s2 >= e]
        runner_up = max(others, default=0.0)
        if similarity < CLOSE or similarity - runner_up < MARGIN:
            return Placement("gone", "", (), similarity)
    return _changed(doc, s, e, similarity, old_quote)


def _changed(doc: Document, s: int, e: int, similarity: float, old_quote: str) -> Placement:
    found = _anchor_at(doc, s, e)
    marks = word_marks(old_quote, found.quote) if old_quote else ()
    return Placement("changed", found.quote, found.heading_path, similarity, marks, found)


def _runs(context: Sequence[str], *, from_end: bool) -> list[tuple[list[str], int]]:
    """Runs of RUN words of a context, nearest the quote first, with how many
    words separate each from the quote."""
    count = len(context) - RUN + 1
    if count <= 0:
        return []
    if from_end:
        return [
            (list(context[j : j + RUN]), len(context) - j - RUN) for j in reversed(range(count))
        ]
    return [(list(context[j : j + RUN]), j) for j in range(count)]


def _place(
    doc: Document, before: Sequence[str], after: Sequence[str], n: int
) -> tuple[int, int] | None:
    """Where the quote stood in the new text: the words between what is left of its
    old neighbours. Each run of RUN context words still found says where the quote
    would start (or end); a side counts when three runs agree (a single run of common
    words is found all over a policy). None when either neighbour is gone too."""

    def side(context: Sequence[str], from_end: bool) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}  # implied edge -> (support, nearest boundary)
        for run, gap in _runs(context, from_end=from_end):
            for h in doc.find_all(run):
                implied, edge = (h + RUN + gap, h + RUN) if from_end else (h - gap, h)
                support, nearest = found.get(implied, (0, edge))
                found[implied] = (
                    support + 1,
                    max(nearest, edge) if from_end else min(nearest, edge),
                )
        return {k: v for k, v in found.items() if v[0] >= 3}

    lefts, rights = side(before, True), side(after, False)
    if not lefts or not rights:
        return None
    slack = len(before) + len(after)
    pairs = [
        (ls + rs, -(rb - la), la, rb)
        for li, (ls, la) in lefts.items()
        for ri, (rs, rb) in rights.items()
        if la <= rb and -slack <= ri - li <= n + slack
    ]
    if not pairs:
        return None
    _, _, a, b = max(pairs)
    return a, b


def _decide(similarity: float, context: float) -> float:
    """> 0 when a match is close enough to be the passage, changed (higher: surer)."""
    if similarity >= CLOSE and (context >= CONTEXT_FAR or similarity >= SAME):
        return 2 + similarity
    if similarity >= NEAR and context >= CONTEXT_NEAR:
        return 1 + similarity + context
    if similarity >= LOOSE and context >= CONTEXT_SAME:
        return similarity + context
    return 0.0


# --- marks -------------------------------------------------------------------


def word_marks(old: str, new: str) -> tuple[Mark, ...]:
    """Old passage → new passage, word by word: ("=", kept), ("-", deleted), ("+", inserted)."""
    a, b = old.split(), new.split()
    matcher = SequenceMatcher(None, [key(w) for w in a], [key(w) for w in b], autojunk=False)
    out: list[Mark] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(b[j1:j2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return tuple(out)


def changed_words(marks: Sequence[Mark], limit: int = 80) -> tuple[str, str]:
    """What a change took out and put in, for one line: ('50% aggregate', 'a meaningful uplift')."""
    old = " … ".join(text for op, text in marks if op == "-")
    new = " … ".join(text for op, text in marks if op == "+")
    return _clip(old, limit), _clip(new, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def signals_inside(quote: str, passage: str, signals: Sequence[dict[str, object]]) -> list[int]:
    """Indexes of the signals whose evidence falls inside the old quote or the new passage."""
    old_keys, new_keys = keys(quote), keys(passage)
    inside: list[int] = []
    for i, signal in enumerate(signals):
        for text, against in ((signal.get("old"), old_keys), (signal.get("new"), new_keys)):
            if not isinstance(text, str) or not text or not against:
                continue
            words = keys(text)
            matcher = SequenceMatcher(None, words, against, autojunk=False)
            block = matcher.find_longest_match(0, len(words), 0, len(against))
            if block.size >= min(4, len(against), len(words)):
                inside.append(i)
                break
    return inside


# --- what a change touches -------------------------------------------------------


def affects_line(criteria: Sequence[dict[str, Any]]) -> str:
    """One line for tasks and alerts: which graded criteria a change touches, and how.

    `criteria`: [{criterion, citations: [{status, marks}]}], every status
    included (only `changed`, `gone` and `moved` count as touched).
    """
    parts: list[str] = []
    for item in criteria:
        touched = []
        for cite in item.get("citations", []):
            status = cite.get("status")
            if status == "changed":
                old, new = changed_words([(m[0], m[1]) for m in cite.get("marks") or []])
                detail = f" ({escape.quote(old)} → {escape.quote(new)})" if old or new else ""
                touched.append(f"quote changed{detail}")
            elif status == "gone":
                touched.append("quote gone")
            elif status == "moved":
                touched.append("quote moved")
        if touched:
            parts.append(f"{item['criterion']} — {', '.join(touched)}")
    if not parts:
        return "Affects no graded criteria: no cited passage changed."
    noun = "criterion" if len(parts) == 1 else "criteria"
    return f"Affects {len(parts)} graded {noun}: " + "; ".join(parts) + "."
