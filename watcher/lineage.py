"""Which document supersedes which: a policy is a lineage of files, not a URL.

Labs publish a revision of a policy as a new file at a new URL, linked from the
same landing page as the old ones. Among one parent's followed documents, this
module decides whether a newly found document is the next version of an earlier
one, from two kinds of evidence:

- its **name**: the first-page title, the link text and the file name stem,
  lower-cased, with version labels, dates, hashes and words such as "final"
  stripped (`name_key`);
- its **text**, in a form that survives re-pagination and re-wrapping
  (`watcher.sketch`): the content-word vocabulary (a comprehensive rewrite keeps it)
  and a bottom-k MinHash of 5-word shingles (a light revision keeps those; a
  rewrite shares as few as 2% of them, so shingles alone would miss exactly
  the revisions that matter most).

Version labels and dates ("Version 2.2", "v3.0", "RSP-2024", "May 14, 2025")
order the documents of one lineage (`version_label`, `order`) and pick the
predecessor among several versions of the same policy.

Pure functions, values in and values out: no SQL, no I/O, no clock. The
thresholds are named constants below; tests/test_lineage.py tunes and checks
them on a labelled set of generated policy texts.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from watcher import clock
from watcher.sketch import (
    MINHASH_SIZE,
    SHINGLE_WORDS,
    VOCABULARY_SIZE,
    Sketch,
    shingle_similarity,
    sketch,
    vocabulary_similarity,
    words,
)

log = logging.getLogger(__name__)

__all__ = [
    "AMBIGUITY_MARGIN",
    "MAX_CANDIDATES",
    "MINHASH_SIZE",
    "NAME_SAME",
    "SHINGLES_SAME",
    "SHINGLE_WORDS",
    "SHORTLIST",
    "VOCABULARY_ALONE",
    "VOCABULARY_SIZE",
    "VOCABULARY_WITH_NAME",
    "Decision",
    "Document",
    "Similarity",
    "Sketch",
    "VersionLabel",
    "document_label",
    "loop",
    "name_key",
    "name_keys",
    "name_similarity",
    "order",
    "policy_key",
    "predecessor",
    "same_document_url",
    "same_policy",
    "shingle_similarity",
    "similarity",
    "sketch",
    "version_label",
    "vocabulary_similarity",
    "words",
    "would_loop",
]

# --- thresholds (tuned on the labelled set in tests/test_lineage.py) ------------

#: Estimated Jaccard of 5-word shingles at or above which two texts are one
#: policy on the text alone: a light revision or the same text re-wrapped and
#: re-paginated keeps most shingles (0.65–0.84 on the labelled set), two
#: different documents of one lab share almost none (at most 0.02), and neither
#: does a comprehensive rewrite (0.00–0.03), which the vocabulary must carry.
SHINGLES_SAME = 0.25
#: Name similarity (0–1, see `Similarity`) at or above which names agree.
NAME_SAME = 0.5
#: Vocabulary cosine that, with agreeing names, makes two texts one policy: a
#: comprehensive rewrite keeps most of its vocabulary (0.85–0.91 on the
#: labelled set) while two different documents of one lab score 0.47–0.61.
VOCABULARY_WITH_NAME = 0.7
#: Vocabulary cosine that makes two texts one policy even when their names say
#: nothing (hashed file names, "Download" links): stricter than with a name.
VOCABULARY_ALONE = 0.8
#: Two lineages whose best scores are within this margin are too close to call.
AMBIGUITY_MARGIN = 0.05
#: At most this many candidates are considered (the newest by capture time);
#: a research index that links thousands of PDFs stays bounded.
MAX_CANDIDATES = 1000
#: Candidates fully compared after the cheap name + vocabulary pre-filter.
SHORTLIST = 8

#: Characters of a document's text read as its first page for version labels.
FIRST_PAGE_CHARS = 1500

# --- values ---------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One followed document as lineage sees it.

    `title` is the first-page title or first heading; `text` the extracted text
    (or give a precomputed `sketch` and leave `text` empty; `first_page` then
    carries the start of the text for version labels). `captured_at` is an ISO
    timestamp. `parent` is the landing page that links it: documents of
    different parents are never paired. `lineage` names the policy the document
    already belongs to (any stable id, e.g. the id of its lineage's first
    document), when known. `key` is the policy a source's explicit `lineage`
    rule names (`policy_key`): documents with the same key are one lineage,
    different keys never are.
    """

    id: str
    url: str = ""
    link_text: str = ""
    title: str = ""
    text: str = ""
    captured_at: str = ""
    parent: str | None = None
    lineage: str | None = None
    first_page: str = ""
    sketch: Sketch | None = None
    #: the policy its source's `lineage` rule names it part of (`policy_key`), if any
    key: str | None = None

    def text_sketch(self) -> Sketch:
        return self.sketch if self.sketch is not None else sketch(self.text)

    def start(self) -> str:
        return self.first_page or self.text[:FIRST_PAGE_CHARS]


@dataclass(frozen=True)
class Similarity:
    """How alike two documents are, each score in 0–1.

    `name`: the best agreement between their name keys (Jaccard of tokens; an
    acronym of the other name, "rsp" for "responsible scaling policy", counts
    0.9). `vocabulary`: cosine of their content-word vectors (log-scaled counts).
    `shingles`: estimated Jaccard of their 5-word shingles.
    """

    name: float
    vocabulary: float
    shingles: float

    @property
    def score(self) -> float:
        """One number to rank candidates by (the text weighs more than the name)."""
        return 0.3 * self.name + 0.5 * self.vocabulary + 0.2 * min(1.0, 2 * self.shingles)

    def __str__(self) -> str:
        return (
            f"name {self.name:.2f}, vocabulary {self.vocabulary:.2f}, shingles {self.shingles:.2f}"
        )


@dataclass(frozen=True)
class Decision:
    """What a newly found document is to the earlier documents of its parent.

    - `supersedes`: `ids == (old_id,)`, the new document is its next version;
    - `precedes`: `ids == (id,)`, the new document is an *earlier* version of
      that document's policy (an archived version linked late);
    - `ambiguous`: `ids` are the documents (one per policy) it may be a new
      version of; a rater decides;
    - `unrelated`: a different policy, its own lineage.

    `reason` is one line for the log and the task.
    """

    kind: Literal["supersedes", "precedes", "ambiguous", "unrelated"]
    ids: tuple[str, ...] = ()
    reason: str = ""
    scores: tuple[tuple[str, Similarity], ...] = field(default=(), compare=False)

    @property
    def old_id(self) -> str | None:
        return self.ids[0] if self.kind in ("supersedes", "precedes") else None


# --- names ------------------------------------------------------------------------

_MONTH = "|".join(sorted(clock.MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d\d"
_ISO_DATE = re.compile(rf"(?<!\d)({_YEAR})[-_./]([01]?\d)[-_./]([0-3]?\d)(?!\d)")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+([0-3]?\d)(?:st|nd|rd|th)?,?\s+({_YEAR})\b", re.I)
_DAY_MONTH_YEAR = re.compile(rf"\b([0-3]?\d)(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+({_YEAR})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?,?[\s_-]+({_YEAR})\b", re.I)
_YEAR_ONLY = re.compile(rf"(?<![\d.])({_YEAR})(?![\d.])")
_VERSION = re.compile(
    r"(?:\bversion|\brev(?:ision)?\.?|(?<![a-z])v)[\s_.-]?(\d{1,3}(?:[._-]\d{1,3}){0,2})(?![\d])",
    re.I,
)
_PRERELEASE = re.compile(r"\b(alpha|beta|draft|preview|pilot)\b", re.I)
_TRAILING_NUMBER = re.compile(r"[\s_-](\d{1,2}(?:[._-]\d{1,2})?)$")
_HEXISH = re.compile(r"^(?=.*\d)(?=.*[a-f])[0-9a-f]{4,}$|^(?=.*\d)(?=.*[a-z])[a-z0-9]{16,}$")

#: Words that say nothing about which policy a name is.
NAME_NOISE = frozenset(
    [
        "final",
        "version",
        "ver",
        "rev",
        "revision",
        "revised",
        "update",
        "updated",
        "draft",
        "publication",
        "public",
        "published",
        "latest",
        "current",
        "new",
        "pdf",
        "download",
        "downloads",
        "view",
        "read",
        "here",
        "click",
        "full",
        "document",
        "file",
        "copy",
        "print",
        "web",
        "online",
        "en",
        "us",
        "uk",
        "the",
        "of",
        "and",
        "for",
        "a",
        "an",
        "our",
        "to",
        "in",
        "on",
        "beta",
        "alpha",
        "preview",
        "pilot",
        "edition",
        "release",
        "v",
    ]
)


def _stem(url: str) -> str:
    path = unquote(urlsplit(url).path).rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[0] if "." in last else last


def _strip_labels(text: str) -> str:
    for pattern in (_ISO_DATE, _MONTH_DAY_YEAR, _DAY_MONTH_YEAR, _MONTH_YEAR, _VERSION):
        text = pattern.sub(" ", text)
    return _YEAR_ONLY.sub(" ", text)


def name_key(text: str) -> tuple[str, ...]:
    """A name reduced to the words that say which policy it is.

    Lower-cased; camelCase, `_` and `-` split; version labels ("v2-2",
    "Version 2.2"), dates, years, numbers, hashes and noise words ("final",
    "publication version", "pdf") removed. Order kept, duplicates dropped.
    """
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = _strip_labels(text.replace("_", " "))
    out: list[str] = []
    for token in re.findall(r"[^\W_]+", text.lower()):
        if token in NAME_NOISE or token.isdigit() or _HEXISH.match(token) or len(token) < 2:
            continue
        if token in clock.MONTHS or re.fullmatch(r"v\d+", token):
            continue
        if token not in out:
            out.append(token)
    return tuple(out)


def name_keys(document: Document) -> tuple[tuple[str, ...], ...]:
    """The document's non-empty name keys: its title, its link text, its file stem."""
    keys = (name_key(document.title), name_key(document.link_text), name_key(_stem(document.url)))
    return tuple(key for key in keys if key)


def _acronym(key: tuple[str, ...]) -> str:
    return "".join(token[0] for token in key) if len(key) >= 2 else ""


def _key_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    sa, sb = set(a), set(b)
    jaccard = len(sa & sb) / len(sa | sb)
    # "rsp" for "responsible scaling policy", "anthropic rsp" for "anthropic responsible…"
    for short, long in ((a, b), (b, a)):
        acronym = _acronym(long)
        if acronym and acronym in short:
            rest = set(short) - {acronym}
            if rest <= set(long):
                return max(jaccard, 0.9)
    return jaccard


def name_similarity(a: Document, b: Document) -> float:
    """The best agreement between any name key of `a` and any of `b` (0 when one has none)."""
    keys_a, keys_b = name_keys(a), name_keys(b)
    return max((_key_similarity(x, y) for x in keys_a for y in keys_b), default=0.0)


# --- versions and order -------------------------------------------------------------


@dataclass(frozen=True)
class VersionLabel:
    """A document's version and date as its link text, file name or first page say.

    `version`: (major, minor, patch, release) where release is 0 for a release
    and -1 for "alpha", "beta", "draft", "preview" or "pilot" ("beta" alone is
    (0, 0, 0, -1), before "1.0"). `date`: (year, month, day), 0 for a part not
    given ("RSP-2024" is (2024, 0, 0)). Either may be None.
    """

    version: tuple[int, int, int, int] | None = None
    date: tuple[int, int, int] | None = None

    def __str__(self) -> str:
        parts = []
        if self.version is not None:
            major, minor, patch, release = self.version
            numbers = f"{major}.{minor}" + (f".{patch}" if patch else "")
            parts.append(("beta " if release < 0 else "") + ("v" + numbers if major else ""))
        if self.date is not None:
            parts.append("-".join(f"{n:02d}" for n in self.date if n))
        return " ".join(p.strip() for p in parts if p.strip()) or "unlabelled"


def _version_in(text: str, *, stem: bool = False) -> tuple[int, int, int, int] | None:
    pre = -1 if _PRERELEASE.search(text) else 0
    match = _VERSION.search(_strip_dates(text))
    if match is None and stem:
        match = _TRAILING_NUMBER.search(_strip_dates(text).strip())
    if match is None:
        return (0, 0, 0, -1) if pre else None
    numbers = [int(n) for n in re.split(r"[._-]", match.group(1))][:3]
    numbers += [0] * (3 - len(numbers))
    return (numbers[0], numbers[1], numbers[2], pre)


def _strip_dates(text: str) -> str:
    for pattern in (_ISO_DATE, _MONTH_DAY_YEAR, _DAY_MONTH_YEAR, _MONTH_YEAR):
        text = pattern.sub(" ", text)
    return _YEAR_ONLY.sub(" ", text)


def _date_in(text: str) -> tuple[int, int, int] | None:
    found: list[tuple[int, int, int]] = []
    for m in _ISO_DATE.finditer(text):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append((year, month, day))
    for m in _MONTH_DAY_YEAR.finditer(text):
        found.append((int(m.group(3)), clock.MONTHS[m.group(1).lower()], int(m.group(2))))
    for m in _DAY_MONTH_YEAR.finditer(text):
        found.append((int(m.group(3)), clock.MONTHS[m.group(2).lower()], int(m.group(1))))
    if found:
        return found[0]
    month_year = _MONTH_YEAR.search(text)
    if month_year:
        return (int(month_year.group(2)), clock.MONTHS[month_year.group(1).lower()], 0)
    year_only = _YEAR_ONLY.search(text)
    return (int(year_only.group(1)), 0, 0) if year_only else None


def version_label(
    link_text: str = "", url: str = "", title: str = "", first_page: str = ""
) -> VersionLabel:
    """The version and date a document carries, read in this order of trust: the
    link text, the file name, the title, the first page. The first place that
    has a version gives it; likewise, separately, for the date."""
    places = [(link_text, False), (_stem(url), True), (title, False)]
    places.append((first_page[:FIRST_PAGE_CHARS], False))
    version = next((v for text, stem in places if (v := _version_in(text, stem=stem))), None)
    date = next((d for text, _ in places if (d := _date_in(text))), None)
    return VersionLabel(version, date)


def document_label(document: Document) -> VersionLabel:
    return version_label(document.link_text, document.url, document.title, document.start())


def _compare_labels(a: Document, b: Document) -> int:
    """Version where both have one, then date, then capture time; 0 for a tie."""
    la, lb = document_label(a), document_label(b)
    for x, y in ((la.version, lb.version), (la.date, lb.date)):
        if x is not None and y is not None and x != y:
            return -1 if x < y else 1
    if a.captured_at != b.captured_at:
        return -1 if a.captured_at < b.captured_at else 1
    return 0


def _compare(a: Document, b: Document) -> int:
    return _compare_labels(a, b) or (-1 if a.id < b.id else 1 if a.id > b.id else 0)


def order(documents: Iterable[Document]) -> list[Document]:
    """The documents of one lineage, oldest first: by version label where both
    have one, then by date where both have one, then by capture time, then id
    (a landing page that lists v1.0, v2.0, v2.1 and v2.2 on the first check)."""
    return sorted(documents, key=functools.cmp_to_key(_compare))


# --- decisions ----------------------------------------------------------------------


def similarity(a: Document, b: Document) -> Similarity:
    """The name, vocabulary and shingle scores of two documents."""
    sa, sb = a.text_sketch(), b.text_sketch()
    return Similarity(
        name=name_similarity(a, b),
        vocabulary=vocabulary_similarity(sa, sb),
        shingles=shingle_similarity(sa, sb),
    )


def same_policy(s: Similarity) -> bool:
    """Whether scores say one policy: the text alone (shared shingles, or a
    vocabulary close enough), or the name with a vocabulary that agrees."""
    return (
        s.shingles >= SHINGLES_SAME
        or s.vocabulary >= VOCABULARY_ALONE
        or (s.name >= NAME_SAME and s.vocabulary >= VOCABULARY_WITH_NAME)
    )


def predecessor(new: Document, candidates: Sequence[Document]) -> Decision:
    """What `new` is to the earlier documents of its parent (`candidates`).

    Candidates of another parent, and `new` itself, are left out; at most
    `MAX_CANDIDATES` (the newest captured) are considered. Each is pre-filtered
    by name and vocabulary, the best `SHORTLIST` are fully compared, and those
    `same_policy` judges one policy with `new` are grouped into lineages (by
    their `lineage`, or by being one policy with each other). One lineage:
    `new` supersedes its latest document that orders before `new` (or precedes
    its oldest). Several: the best-scoring one wins unless another is within
    `AMBIGUITY_MARGIN`, then `ambiguous`. None: `unrelated`.
    """
    pool = [c for c in candidates if c.id != new.id and c.parent == new.parent]
    # an explicit rule decides alone: the same key is one policy, another key never
    pool = [c for c in pool if c.key == new.key]
    if new.key is not None:
        return _named(new, pool)
    elsewhere = sum(1 for c in candidates if c.parent != new.parent)
    if elsewhere:
        log.debug("lineage %s: left out %d documents of other parents", new.id, elsewhere)
    if len(pool) > MAX_CANDIDATES:
        log.info(
            "lineage %s: %d candidates, comparing the newest %d", new.id, len(pool), MAX_CANDIDATES
        )
        pool = sorted(pool, key=lambda c: c.captured_at)[-MAX_CANDIDATES:]
    if not pool:
        return Decision("unrelated", reason="no earlier document")

    # each text is sketched once; every comparison below reads sketches only
    new = _sketched(new)
    pool = [_sketched(c) for c in pool]
    rough = sorted(
        pool,
        key=lambda c: (
            -max(name_similarity(new, c), vocabulary_similarity(new.text_sketch(), c.text_sketch()))
        ),
    )
    shortlist = rough[:SHORTLIST]
    scored = [(c, similarity(new, c)) for c in shortlist]
    scores = tuple((c.id, s) for c, s in scored)
    matched = [(c, s) for c, s in scored if same_policy(s)]
    log.debug(
        "lineage %s: %d candidates, shortlist %s",
        new.id,
        len(pool),
        "; ".join(f"{c.id}: {s}" for c, s in scored),
    )
    if not matched:
        best = max(scored, key=lambda cs: cs[1].score)
        return Decision(
            "unrelated",
            reason=f"a different policy (closest {best[0].id}: {best[1]})",
            scores=scores,
        )

    groups = _lineages([c for c, _ in matched])
    best_of = {c.id: s for c, s in matched}
    ranked = sorted(groups, key=lambda g: -max(best_of[c.id].score for c in g))
    top = [max(best_of[c.id].score for c in g) for g in ranked]
    if len(ranked) > 1 and top[0] - top[1] < AMBIGUITY_MARGIN:
        close = [
            g for g, score in zip(ranked, top, strict=True) if top[0] - score < AMBIGUITY_MARGIN
        ]
        ids = tuple(_place(new, g)[1].id for g in close)
        return Decision(
            "ambiguous",
            ids,
            reason="possibly a new version of " + " or ".join(f"{i} ({best_of[i]})" for i in ids),
            scores=scores,
        )
    kind, old = _place(new, ranked[0])
    evidence = best_of[old.id]
    verb = "the next version of" if kind == "supersedes" else "an earlier version of"
    return Decision(
        kind,
        (old.id,),
        reason=f"{verb} {old.id} ({document_label(new)} after {document_label(old)}; {evidence})"
        if kind == "supersedes"
        else f"{verb} {old.id} ({evidence})",
        scores=scores,
    )


def _named(new: Document, pool: list[Document]) -> Decision:
    """Where `new` goes among the documents its `lineage` rule names as the same policy."""
    if not pool:
        return Decision("unrelated", reason=f"the first document of policy {new.key!r}")
    kind, old = _place(new, pool)
    if kind == "supersedes":
        reason = (
            f"the next version of {old.id} ({document_label(new)} after "
            f"{document_label(old)}; policy {new.key!r} by the source's lineage rule)"
        )
    else:
        reason = f"an earlier version of {old.id} (policy {new.key!r} by the source's lineage rule)"
    return Decision(kind, (old.id,), reason=reason)


def policy_key(pattern: str, link_text: str, url: str) -> str | None:
    """The policy a source's `lineage` rule names a document part of: the first
    match of `pattern` in the link text, else in the file name (the URL path's
    last segment, unquoted; the link text with its spacing collapsed); its named group `policy` when it has one (and it
    matched), else the whole match. Case and spacing do not matter. None when
    the rule matches neither: the automatic rule decides, among documents the
    rule names none of."""
    regex = re.compile(pattern, re.IGNORECASE)
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    for text in (" ".join(link_text.split()), name):
        found = regex.search(text)
        if found is None:
            continue
        value = found.group("policy") if "policy" in regex.groupindex else found.group(0)
        key = " ".join((value or "").casefold().split())
        if key:
            return key
    return None


def _sketched(document: Document) -> Document:
    if document.sketch is not None:
        return document
    return replace(document, sketch=sketch(document.text), first_page=document.start(), text="")


def _lineages(docs: list[Document]) -> list[list[Document]]:
    """Matched candidates grouped into policies: same `lineage`, or one policy by text."""
    parent = list(range(len(docs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(docs):
        for j in range(i + 1, len(docs)):
            b = docs[j]
            if (a.lineage is not None and a.lineage == b.lineage) or same_policy(similarity(a, b)):
                parent[root(i)] = root(j)
    groups: dict[int, list[Document]] = {}
    for i, doc in enumerate(docs):
        groups.setdefault(root(i), []).append(doc)
    return list(groups.values())


def _place(
    new: Document, group: list[Document]
) -> tuple[Literal["supersedes", "precedes"], Document]:
    """Where `new` goes in a lineage: after its latest member that orders before it."""
    members = order(group)
    # on a full tie the newly found document is the newer one
    before = [m for m in members if _compare_labels(m, new) <= 0]
    if before:
        return "supersedes", before[-1]
    return "precedes", members[0]


def loop(links: Mapping[str, str], old: str, new: str) -> tuple[str, ...]:
    """The loop that recording "`new` supersedes `old`" would make, newest first and
    ending where it starts (`("v1", "v3", "v2", "v1")`: v1 would supersede v3, which
    supersedes v2, which supersedes v1), or () when there is none. `links` maps
    each document's id to the id of the document it supersedes."""
    path = [new]
    current: str | None = old
    while current is not None:
        path.append(current)
        if current == new:
            return tuple(path)
        if current in path[:-1]:
            return ()  # an older loop already in `links`, not one this link makes
        current = links.get(current)
    return ()


def would_loop(links: Mapping[str, str], old: str, new: str) -> bool:
    """Whether recording "`new` supersedes `old`" makes a loop (see `loop`)."""
    return bool(loop(links, old, new))


# --- URLs -------------------------------------------------------------------------

#: Query parameters that never name a different file (tracking, cache busting).
TRACKING_PARAMS = frozenset(
    [
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "source",
        "_ga",
        "_gl",
        "hslang",
        "cb",
        "cache",
        "nocache",
        "t",
        "ts",
        "timestamp",
        "_",
        "dl",
        "download",
    ]
)


def _canonical(url: str) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url.strip())
    scheme = {"http": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = unquote(parts.path) or "/"
    query = tuple(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in TRACKING_PARAMS and not k.lower().startswith("utm_")
        )
    )
    return scheme, host, path, query


def same_document_url(a: str, b: str) -> bool:
    """Whether two links name the same file.

    The fragment never matters, nor http vs https, host case, a default port or
    percent-encoding. When the path names a file (its last segment has an
    extension, `.../rsp-v2.2.pdf`) the query string does not matter either
    (signed or cache-busting links); otherwise the query may name the file
    (`/download?id=7`), and only tracking parameters (utm_*, fbclid, …) are
    ignored.
    """
    ca, cb = _canonical(a), _canonical(b)
    if ca[:3] != cb[:3]:
        return False
    last = ca[2].rstrip("/").rsplit("/", 1)[-1]
    if re.search(r"\.[A-Za-z0-9]{2,5}$", last):
        return True
    return ca[3] == cb[3]
