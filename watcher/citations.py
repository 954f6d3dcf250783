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

Finding a quote that is not there word for word: every key of the quote
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
CANDIDATES = 6
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


def _anchor_at(doc: Document, start: int, end: int) -> Anchor:
    before, after = doc.context(start, end)
    return Anchor(
        quote=doc.passage(start, end),
        before=" ".join(before),
        after=" ".join(after),
        heading_path=doc.paths[start] if start < len(doc.paths) else (),
        lead=" ".join(doc.lead(start)),
    )


def anchor(text: str, quote: str, *, section: str | None = None) -> Anchor:
    """Anchor `quote` in a version's text, or refuse with what to do instead.

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
            f"; closest passage (under {_where(closest.heading_path)}): {closest.quote!r}"
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
    return _anchor_at(doc, start, start + len(wanted))


def _where(path: Sequence[str]) -> str:
    return repr(path_text(path)) if path else "no heading"


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


def _between(
    doc: Document, before: Sequence[str], after: Sequence[str], lo: int, hi: int
) -> tuple[int, int] | None:
    """The words between the old neighbours, when both are found near lo..hi."""
    if len(before) < 3 or len(after) < 3:
        return None
    left = doc.find_all(before[-4:])
    right = doc.find_all(after[:4])
    left = [p + len(before[-4:]) for p in left if lo - 8 <= p + len(before[-4:]) <= hi]
    right = [p for p in right if lo <= p <= hi + 8]
    pairs = [(a, b) for a in left for b in right if a <= b]
    if not pairs:
        return None
    return min(pairs, key=lambda p: p[1] - p[0])


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
    if anchor_check and _closed_up(doc, before, after):
        return Placement("gone", "", (), 0.0)
    best: tuple[float, float, int, int] = (
        0.0,
        0.0,
        0,
        0,
    )  # (decision score, similarity, start, end)
    for start in _candidates(doc, wanted, before, after):
        lo, hi = max(0, start - n // 2 - 2), min(len(doc.keys), start + n + n // 2 + 2)
        spans = [(*_span(doc, wanted, lo, hi), False)]
        if between := _between(doc, before, after, lo - n, hi + n):
            a, b = between
            similarity = (
                SequenceMatcher(None, wanted, doc.keys[a:b], autojunk=False).ratio()
                if b > a
                else 0.0
            )
            spans.append((a, b, similarity, True))
        for s, e, similarity, bounded in spans:
            if e <= s:
                continue
            got_before, got_after = doc.context(s, e)
            context = _context_score(before, after, got_before, got_after)
            decision = _decide(similarity, context) if anchor_check else similarity
            if bounded and decision > 0:
                # both old neighbours still frame it: the whole passage, not its best-kept words
                decision += 10
            if (decision, similarity) > best[:2]:
                best = (decision, similarity, s, e)
    decision, similarity, s, e = best
    if e <= s or (anchor_check and decision <= 0):
        return Placement("gone", "", (), similarity)
    found = _anchor_at(doc, s, e)
    marks = word_marks(old_quote, found.quote) if old_quote else ()
    return Placement("changed", found.quote, found.heading_path, similarity, marks, found)


def _closed_up(doc: Document, before: Sequence[str], after: Sequence[str]) -> bool:
    """Whether the words either side of the passage now meet: it was deleted where it stood."""
    size = min(8, len(before), len(after))
    if size < 4:
        return False
    ends = {p + size for p in doc.find_all(before[-size:])}
    return any(p - gap in ends for p in doc.find_all(after[:size]) for gap in (0, 1))


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
                detail = f" ({old!r} → {new!r})" if old or new else ""
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
