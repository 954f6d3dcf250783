"""Values passed between the stages of the pipeline.

Plain frozen dataclasses: picklable (extraction runs in worker processes),
comparable in tests, and free of behaviour beyond small derived properties.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

DocumentKind = Literal["html", "pdf", "text"]
# Raised whenever extraction turns the same bytes into a different text (PDF
# headings became `#` lines in 2), so every stored snapshot is re-extracted
# once, recorded as a re-extraction with no task, instead of the next real
# change of each document carrying the extractor's own changes.
EXTRACTOR_VERSION = 2

# Which fetcher produced a check's answer: plain HTTP, or Chromium's rendered DOM.
Fetcher = Literal["http", "browser"]
# A source's `browser` setting: never, always, or when a plain fetch meets a
# bot challenge or a JavaScript shell.
BrowserMode = Literal[False, True, "auto"]
# `suspect`: a new text that shrank to a short page, not recorded until a second
# check sees the same text (it is neither a version nor a failure).
Outcome = Literal["new_version", "unchanged", "not_modified", "suspect", "failed"]

# Below this many words, a new text that keeps little of the previous version is
# `suspect` (the pipeline records it only when the next check sees it again),
# never "collapsed" (extraction's failure for long texts that lost most of theirs).
SUSPECT_WORDS = 300


def text_sha256(text: str) -> str:
    """The SHA-256 that names a text blob (of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExtractRules:
    """How to turn one source's raw bytes into text.

    `select` and `remove` are CSS selectors, `ignore` regular expressions
    (matched against each line of the extracted text, which is dropped when
    one matches), `follow` a CSS selector of links to track as child sources.
    """

    select: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    follow: str | None = None

    @property
    def hash(self) -> str:
        """SHA-256 of what shapes the extracted text: the rules and the extractor.

        select/remove/ignore and EXTRACTOR_VERSION: a change of these re-extracts
        the stored snapshot (a re-extraction, not a change of the policy).
        `follow` and the URL do not change the text of this document.
        """
        rules: dict[str, object] = {
            "select": self.select,
            "remove": self.remove,
            "ignore": self.ignore,
        }
        if EXTRACTOR_VERSION > 1:  # version 1 hashed the rules alone
            rules["extractor"] = EXTRACTOR_VERSION
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """A link found by a `follow` rule: absolute URL and visible text."""

    url: str
    text: str


@dataclass(frozen=True)
class Extracted:
    """What extraction made of a document.

    `text` is normalised Markdown-like text: one block (heading, paragraph,
    list item, table row) per line, headings as `#`..`######`, list items as
    `- `. `links` holds what the `follow` rule matched, in page order,
    de-duplicated by URL.
    """

    text: str
    kind: DocumentKind
    links: tuple[Link, ...] = ()
    pages: int | None = None
    #: For a PDF, the page (from 1) each line of `text` starts on, one per
    #: line; None for other kinds. Kept beside the text, never in it: the same
    #: text paginated otherwise is the same version (`sha256` is the text's).
    line_pages: tuple[int, ...] | None = field(default=None, compare=False, kw_only=True)
    # Derived from `text` once, where extraction runs (a worker process):
    # the pipeline reads them several times and a split of 50k words is not free.
    # `words` is len(text.split()); an extractor that knows it (normalise_counting)
    # passes it, anything else leaves it to be counted here.
    words: int = field(default=-1, compare=False, kw_only=True)
    sha256: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.words < 0:
            object.__setattr__(self, "words", len(self.text.split()))
        object.__setattr__(self, "sha256", text_sha256(self.text))

    @property
    def chars(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class Processed:
    """What a check needs of a fetched document, made in one worker job
    (`watcher.extract.process`)."""

    fingerprint: str | None  # None: the page has none (PDFs, text, odd pages)
    extracted: Extracted | None  # None: the fingerprint shows nothing changed


@dataclass(frozen=True)
class FetchResult:
    """One HTTP exchange that produced a usable answer (200 or 304)."""

    url: str  # the final URL after redirects
    status: int
    content: bytes  # empty for a 304
    content_type: str  # media type from the header, lower case, no parameters ("" if none)
    charset: str | None  # from the Content-Type header, if any
    etag: str | None
    last_modified: str | None
    duration_ms: int
    # "https://… → http://…" when a redirect left HTTPS (followed: allow_downgrade)
    downgrade: str | None = None
    # "browser": `content` is the DOM Chromium rendered (UTF-8 HTML), not the body as sent
    fetcher: Fetcher = "http"

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class WordOp:
    """One run of words inside a changed line pair: kept, deleted or inserted."""

    op: Literal["equal", "delete", "insert"]
    text: str


@dataclass(frozen=True)
class Hunk:
    """One contiguous changed region of the text.

    `old_lines`/`new_lines` are the whole lines removed and added (either may
    be empty); `old_start`/`new_start` are 0-based line indexes; `words`
    marks word-level edits when the hunk replaces lines with similar lines
    (empty otherwise); `heading_path` is the chain of headings above the
    hunk in the new text (the old text when the hunk only deletes); `pages`
    the PDF pages its lines start on, in order and distinct (the new side's,
    the old side's when it only deletes; empty when that side has no page map).
    """

    heading_path: tuple[str, ...]
    old_start: int
    new_start: int
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    words: tuple[WordOp, ...] = ()
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChangeStats:
    words_added: int
    words_removed: int
    old_words: int
    new_words: int

    @property
    def share_changed(self) -> float:
        """Changed words over the larger of the two texts, 0..1."""
        base = max(self.old_words, self.new_words, 1)
        return min(1.0, max(self.words_added, self.words_removed) / base)


@dataclass(frozen=True)
class Change:
    """The difference between two texts of one source."""

    hunks: tuple[Hunk, ...]
    stats: ChangeStats

    @property
    def headings(self) -> tuple[str, ...]:
        """Distinct heading paths of the changed sections, in order, joined with ' › '."""
        seen: dict[str, None] = {}
        for hunk in self.hunks:
            if hunk.heading_path:
                seen.setdefault(" › ".join(hunk.heading_path), None)
        return tuple(seen)


@dataclass(frozen=True)
class CheckOutcome:
    """What one check of one source came to, for summaries and logs."""

    source_id: str
    outcome: Outcome
    http_status: int | None = None
    duration_ms: int = 0
    bytes: int = 0
    error: str | None = None
    version: int | None = None
    task_id: int | None = None
    children: tuple[str, ...] = field(default=())
    # what a good check should still tell: why it is suspect, an HTTPS downgrade
    warning: str | None = None


@dataclass(frozen=True)
class Source:
    """A document to check: a configured source or a child found by `follow`."""

    id: str
    url: str
    lab: str
    title: str
    rules: ExtractRules
    notify: tuple[str, ...] = ()
    expected: DocumentKind | None = None
    parent_id: str | None = None
    watch_terms: tuple[str, ...] = ()
    proxy: str | None = None  # a proxy URL or "none"; None: [watcher] proxy
    browser: BrowserMode = False
    # Request settings of its own: extra headers, cookie name → environment
    # variable holding its value, a user agent (None: [watcher] user_agent).
    headers: tuple[tuple[str, str], ...] = ()
    cookies_env: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None


#: How `Analysis.headline` names each signal kind.
SIGNAL_LABELS: dict[str, str] = {
    "commitment_weakened": "commitment weakened",
    "commitment_strengthened": "commitment strengthened",
    "quantitative_removed": "quantitative threshold removed",
    "quantitative_added": "quantitative threshold added",
    "quantitative_changed": "quantitative threshold changed",
    "term_changed": "watched term changed",
    "scope_changed": "scope changed",
    "section_added": "section added",
    "section_removed": "section removed",
    "section_renamed": "section renamed",
    "version_label_changed": "version label changed",
    "effective_date_changed": "effective date changed",
    "exception_added": "exception added",
    "content_removed": "policy content removed",
    "new_document": "new document linked",
    "large_rewrite": "large rewrite",
}


@dataclass(frozen=True)
class Signal:
    """One kind of change a rater cares about, with its evidence.

    `kind` is one of the keys of `SIGNAL_LABELS`; `section` the heading path
    joined with " › " ("" when none); `old`/`new` the evidence (the sentence
    or value before and after, None when there is none on that side);
    `page` the PDF page of the new passage (of the old one for a deletion),
    None when not known (HTML, a signal about the whole document).
    `direction` whether a changed quantity makes the policy 'stricter' or
    'looser', where the quantity's role (a bound, a cadence) makes it knowable,
    else None.
    """

    kind: str
    section: str
    old: str | None
    new: str | None
    detail: str = ""  # short human note, e.g. "'commit' → 'expect'"
    #: the changed words of `old` and `new`, as (start, end) character offsets
    old_marks: tuple[tuple[int, int], ...] = ()
    new_marks: tuple[tuple[int, int], ...] = ()
    page: int | None = None
    direction: str | None = None  # "stricter" | "looser" | None

    def __post_init__(self) -> None:
        # Signals come back from JSON (alerts, tasks): lists become tuples, a
        # null section the empty path, so that signals stay hashable and equal.
        if self.section is None:
            object.__setattr__(self, "section", "")
        for name in ("old_marks", "new_marks"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or any(not isinstance(m, tuple) for m in value):
                object.__setattr__(self, name, tuple((int(a), int(b)) for a, b in value))


@dataclass(frozen=True)
class Analysis:
    """What kind of change a new version made: severity and signals, most severe first."""

    severity: str  # "minor" | "substantive" | "major"
    signals: tuple[Signal, ...]
    #: signals found but left out of `signals` (the least material ones) by a limit
    truncated: int = 0

    def headline(self) -> str:
        """One line: 'major: commitment weakened, quantitative threshold removed (+1 more)'.

        Names the first two kinds of signal (signals are sorted most severe
        first); '+N more' counts the signals of the kinds not named.
        """
        if not self.signals:
            what = "no signals" if self.severity == "minor" else "text changed, no specific signal"
            return f"{self.severity}: {what}"
        kinds = list(dict.fromkeys(signal.kind for signal in self.signals))[:2]
        names = ", ".join(SIGNAL_LABELS.get(kind, kind.replace("_", " ")) for kind in kinds)
        rest = sum(1 for signal in self.signals if signal.kind not in kinds) + self.truncated
        return f"{self.severity}: {names}" + (f" (+{rest} more)" if rest else "")


def signal_to_json(signal: Signal) -> dict[str, object]:
    """JSON-ready dict of a signal: kind, section (null before the first heading),
    page (null when not known), old, new, detail, the changed words of old and new as
    [start, end] offsets, and direction ('stricter', 'looser' or null)."""
    return {
        "kind": signal.kind,
        "section": signal.section or None,
        "page": signal.page,
        "old": signal.old,
        "new": signal.new,
        "detail": signal.detail,
        "old_marks": [list(mark) for mark in signal.old_marks],
        "new_marks": [list(mark) for mark in signal.new_marks],
        "direction": signal.direction,
    }


#: A page map stored compactly: (line index, page) where each run of lines on one page starts.
PageStarts = tuple[tuple[int, int], ...]


def page_starts(line_pages: tuple[int, ...]) -> PageStarts:
    """The run-length form of a per-line page map: ((0, 1), (14, 2), ...)."""
    starts: list[tuple[int, int]] = []
    for index, page in enumerate(line_pages):
        if not starts or starts[-1][1] != page:
            starts.append((index, page))
    return tuple(starts)


def expand_pages(starts: PageStarts, lines: int) -> tuple[int, ...]:
    """The per-line page map of a text of `lines` lines from its run-length form."""
    pages: list[int] = []
    for (index, page), following in zip(starts, (*starts[1:], (lines, 0)), strict=False):
        pages.extend([page] * (min(following[0], lines) - index))
    if len(pages) < lines:  # a map shorter than its text: the rest on its last page
        pages.extend([pages[-1] if pages else 1] * (lines - len(pages)))
    return tuple(pages)


def page_label(pages: tuple[int, ...] | list[int] | None) -> str:
    """'p. 7' for one page, 'pp. 7–8' for a range, '' for none."""
    if not pages:
        return ""
    first, last = min(pages), max(pages)
    return f"p. {first}" if first == last else f"pp. {first}–{last}"
