"""Extraction: raw bytes of a document → normalised Markdown-like text.

    extract(content, content_type=..., charset=..., url=..., rules=...) -> Extracted

The kind of document is sniffed from the bytes first (a PDF served without
`.pdf` or as application/octet-stream is still a PDF), then the header. The
extractor for the kind is looked up in `EXTRACTORS`; its text then goes
through sanity checks that turn error pages, bot challenges, JavaScript
shells and collapsed texts into `SuspiciousExtraction` instead of versions.

Runs in a worker process: arguments and results are picklable and every
function here is top-level.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from watcher import escape
from watcher.errors import ExtractionError, SuspiciousExtraction
from watcher.extract.fingerprint import roots_fingerprint
from watcher.extract.html import (
    decode_markup,
    extract_html,
    nothing_matched,
    parse,
    prepare,
    render,
)
from watcher.extract.normalise import compile_ignore, normalise, normalise_counting
from watcher.extract.pdf import extract_pdf
from watcher.models import SUSPECT_WORDS, DocumentKind, Extracted, ExtractRules, Processed
from watcher.wording import plural

__all__ = [
    "EXTRACTORS",
    "Processed",
    "compile_ignore",
    "extract",
    "extract_html",
    "extract_pdf",
    "extract_text",
    "normalise",
    "process",
    "sniff_kind",
]

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPE = "application/pdf"
# How much of the start of a document sniffing and raw-marker checks look at.
SNIFF_BYTES = 1024
MARKER_BYTES = 256 * 1024

SHORT_WORDS = 150  # error pages, challenges and shells are shorter than this
COLLAPSE_RATIO = 0.2
COLLAPSE_MIN_PREVIOUS = 200

_LEADING = b" \t\r\n\f\x00"
_BOM = b"\xef\xbb\xbf"
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")
_HTML_NEAR_START = (b"<html", b"<head", b"<body", b"<!doctype html")


def sniff_kind(content: bytes, content_type: str, url: str) -> DocumentKind:
    """'pdf' when the bytes start with %PDF- (after optional whitespace or BOM);
    'html' for HTML media types or bytes that look like HTML; 'text' otherwise.

    The bytes win over the header: Meta serves its PDF at a URL without .pdf,
    and error pages come back with whatever type the URL was meant to have.
    """
    head = content[:SNIFF_BYTES]
    stripped = head.lstrip(_LEADING)
    if stripped.startswith(_BOM):
        stripped = stripped[len(_BOM) :].lstrip(_LEADING)
    if stripped.startswith(b"%PDF-"):
        return "pdf"
    claims_pdf = content_type == PDF_TYPE or url.lower().split("?")[0].endswith(".pdf")
    if claims_pdf and b"%PDF-" in head:  # junk before the header, which readers accept
        return "pdf"
    lowered = stripped.lower()
    if lowered.startswith(_HTML_START) or (lowered.startswith(b"<?xml") and b"<html" in lowered):
        return "html"
    if content_type in HTML_TYPES:
        return "html"
    if lowered.startswith(b"<") and any(marker in lowered[:512] for marker in _HTML_NEAR_START):
        return "html"
    return "text"


def extract_text(
    content: bytes, *, charset: str | None, url: str, rules: ExtractRules
) -> Extracted:
    """Plain text: decoded like HTML, each non-empty line a block."""
    head = content[:SNIFF_BYTES]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError(f"not a text document ({len(content):,} bytes of binary data)")
    text = decode_markup(content, charset, is_html=False)
    text, words = normalise_counting(text, rules.ignore)
    return Extracted(text=text, kind="text", words=words)


Extractor = Callable[..., Extracted]
EXTRACTORS: dict[str, Extractor] = {"html": extract_html, "pdf": extract_pdf, "text": extract_text}


def extract(
    content: bytes,
    *,
    content_type: str,
    charset: str | None,
    url: str,
    rules: ExtractRules,
    expected: DocumentKind | None = None,
    previous_chars: int | None = None,
) -> Extracted:
    """Turn a document's bytes into normalised text with the source's rules.

    Raises ExtractionError when the bytes cannot be read (corrupt or encrypted
    PDF, binary data) and SuspiciousExtraction when the result must not become
    a version; both carry a one-line reason.
    """
    if not content.strip():
        raise SuspiciousExtraction(f"empty response ({len(content)} bytes): no text extracted")
    kind = sniff_kind(content, content_type, url)
    if kind != "pdf" and (expected == "pdf" or content_type == PDF_TYPE):
        raise SuspiciousExtraction(_not_a_pdf(content, content_type, kind))
    page = _page_signals(content) if kind == "html" else None
    if page is not None and (reason := _strong_challenge(page)):
        raise SuspiciousExtraction(reason)
    extracted = EXTRACTORS[kind](content, charset=charset, url=url, rules=rules)
    # A selection that matched proves the page has the site's structure, so markers
    # in the raw page (scripts, <noscript>) no longer say anything about it.
    _check(
        extracted, None if rules.select else page, previous_chars, title=page.title if page else ""
    )
    log.debug(
        "extracted %s from %s: %d words, %d links", kind, url, extracted.words, len(extracted.links)
    )
    return extracted


def process(
    content: bytes,
    *,
    content_type: str,
    charset: str | None,
    url: str,
    rules: ExtractRules,
    expected: DocumentKind | None = None,
    previous_chars: int | None = None,
    known_fingerprint: str | None = None,
) -> Processed:
    """Fingerprint and extract, unless the fingerprint equals `known_fingerprint`.

    An HTML page is parsed once for both; any other document is extracted as
    `extract` does. Raises what `extract` raises.
    """
    is_html = bool(content.strip()) and sniff_kind(content, content_type, url) == "html"
    if is_html and expected != "pdf" and content_type != PDF_TYPE:
        return _process_html(
            content,
            charset=charset,
            url=url,
            rules=rules,
            previous_chars=previous_chars,
            known_fingerprint=known_fingerprint,
        )
    extracted = extract(
        content,
        content_type=content_type,
        charset=charset,
        url=url,
        rules=rules,
        expected=expected,
        previous_chars=previous_chars,
    )
    return Processed(None, extracted)


def _process_html(
    content: bytes,
    *,
    charset: str | None,
    url: str,
    rules: ExtractRules,
    previous_chars: int | None,
    known_fingerprint: str | None,
) -> Processed:
    """`process` of an HTML page, on one lxml tree."""
    markup = decode_markup(content, charset, is_html=True)
    root = parse(markup)
    prepared = prepare(root, url=url, rules=rules)
    matched = bool(prepared.roots) or not rules.select
    fingerprint = roots_fingerprint(prepared, charset, rules) if matched else None
    if fingerprint is not None and fingerprint == known_fingerprint:
        return Processed(fingerprint, None)
    page = _page_signals(content)
    if reason := _strong_challenge(page):
        raise SuspiciousExtraction(reason)
    if not matched:
        raise nothing_matched(prepared, rules)
    extracted = render(prepared, rules)
    _check(extracted, None if rules.select else page, previous_chars, title=page.title)
    log.debug(
        "extracted html from %s: %d words, %d links", url, extracted.words, len(extracted.links)
    )
    return Processed(fingerprint, extracted)


def _not_a_pdf(content: bytes, content_type: str, kind: str) -> str:
    size = f"{len(content):,} bytes"
    if kind == "html":
        title = _page_signals(content).title
        detail = f"{size}, title {escape.quote(title)}" if title else size
        return f"expected a PDF but got text/html ({detail})"
    if content_type == PDF_TYPE:
        return f"served as application/pdf but is not a PDF ({size})"
    return f"expected a PDF but got {content_type or 'an untyped body'} ({size})"


# ---------------------------------------------------------------- sanity checks


@dataclass(frozen=True)
class PageSignals:
    """What the raw HTML says about itself, found without parsing.

    `head` is the start of the page, lower-cased as bytes: enough for the
    ASCII markers every page is searched for (~0.2 ms instead of ~0.6 ms for
    decoding and lower-casing 256 KB as text). `raw`, the decoded text, is
    made only for the short pages whose other signals are consulted.
    """

    title: str
    head: bytes
    size: int

    @functools.cached_property
    def raw(self) -> str:
        """The start of the document as text, lower case."""
        return self.head.decode("utf-8", errors="replace").lower()


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_EMPTY_APP_ROOT = re.compile(
    r"<div[^>]+id=[\"']?(?:root|app|__next|__nuxt|svelte)[\"']?[^>]*>\s*</div>", re.IGNORECASE
)


def _page_signals(content: bytes) -> PageSignals:
    head = content[:MARKER_BYTES]
    match = _TITLE.search(head)
    # ASCII delimiters never occur inside a UTF-8 sequence: the same match as on decoded text
    title = " ".join(match.group(1).decode("utf-8", errors="replace").split()) if match else ""
    return PageSignals(title=title, head=head.lower(), size=len(content))


def _phrases(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


_APOS = "['’]"
# Titles that only challenge pages have.
_CHALLENGE_TITLE = _phrases(
    r"^just a moment\.*$",
    r"^attention required!? \| cloudflare$",
    r"^please wait\.*( \| cloudflare)?$",
    r"^access denied \| .* cloudflare",
    r"^ddos-guard$",
    r"^human verification$",
)
# Markers that appear only in challenge pages (Cloudflare, Incapsula, PerimeterX).
_CHALLENGE_RAW_STRONG = (
    "window._cf_chl_opt",
    "cf-challenge",
    'id="challenge-form"',
    "request unsuccessful. incapsula incident id",
    "px-captcha",
    "access to this page has been denied",
)
# Markers that normal pages carry too (Cloudflare's challenge-platform script is
# injected into ordinary pages, forms use captchas): only count on short pages.
_CHALLENGE_RAW_WEAK = (
    "challenge-platform",
    "captcha",
    "_incapsula_resource",
    "perimeterx",
    "/cdn-cgi/challenge",
)
_CHALLENGE_TEXT = _phrases(
    r"checking (if the site connection is secure|your browser)",
    r"verify (that )?you are (a )?human",
    r"just a moment\.\.\.",
    r"attention required",
    r"enable javascript and cookies to continue",
    r"request unsuccessful\. incapsula",
    r"access to this page has been denied",
    r"\bcaptcha\b",
    r"ddos protection by",
    r"are you a robot",
)
_JS_TEXT = _phrases(
    r"enable javascript",
    r"javascript is (required|disabled|not enabled|turned off)",
    r"requires javascript",
    r"you need to enable javascript to run this app",
    r"turn on javascript",
)
_ERROR_TEXT = _phrases(
    r"page not found",
    r"\b404\b",
    rf"this page isn{_APOS}t available",
    r"this page is not available",
    r"this page could not be found",
    rf"sorry,? we couldn{_APOS}t find (that|this|the) page",
    rf"(page|file) (does not|doesn{_APOS}t) exist",
    r"access denied",
    r"internal server error",
    r"403 forbidden",
    r"service (temporarily )?unavailable",
    r"bad gateway",
)


def _strong_challenge(page: PageSignals) -> str | None:
    """A bot challenge recognisable from title or markers alone, whatever the rules select."""
    if page.title and _CHALLENGE_TITLE.search(page.title):
        return f"bot challenge instead of the document (page title {escape.quote(page.title)})"
    for marker in _CHALLENGE_RAW_STRONG:
        if marker.encode() in page.head:
            return f"bot challenge instead of the document (page contains {escape.quote(marker)})"
    return None


def _check(
    extracted: Extracted, page: PageSignals | None, previous_chars: int | None, *, title: str
) -> None:
    """Raise SuspiciousExtraction when the text is not something to keep as a version.

    `page` holds the raw-page signals to consult (None when they must not count).
    """
    text = extracted.text
    words = extracted.words
    short = words < SHORT_WORDS
    if short and extracted.kind != "pdf":
        if reason := _challenge(text, page):
            raise SuspiciousExtraction(reason)
        if reason := _javascript_shell(text, words, page):
            raise SuspiciousExtraction(reason)
    if not text:
        raise SuspiciousExtraction("no text extracted")
    if short and (reason := _error_page(text, words, title)):
        raise SuspiciousExtraction(reason)
    collapsed = (
        words >= SUSPECT_WORDS
        and previous_chars is not None
        and previous_chars >= COLLAPSE_MIN_PREVIOUS
        and len(text) < COLLAPSE_RATIO * previous_chars
    )
    if collapsed:
        raise SuspiciousExtraction(
            f"text collapsed to {len(text):,} characters from {previous_chars:,}"
            f" (under {COLLAPSE_RATIO:.0%})"
        )


def _challenge(text: str, page: PageSignals | None) -> str | None:
    if match := _CHALLENGE_TEXT.search(text):
        return f"bot challenge instead of the document ({escape.quote(match.group(0))})"
    if page is not None:
        for marker in _CHALLENGE_RAW_WEAK:
            if marker in page.raw and len(text.split()) < 50:
                return f"bot challenge instead of the document (short page containing {escape.quote(marker)})"
    return None


def _javascript_shell(text: str, words: int, page: PageSignals | None) -> str | None:
    if match := _JS_TEXT.search(text):
        return f"JavaScript required: the page only says {escape.quote(match.group(0))}"
    if page is None or words >= 30:
        return None
    # <noscript> is dropped from the text, so look for its message in the raw page.
    if match := _JS_TEXT.search(page.raw):
        return f"JavaScript required: {plural(words, 'word')} of text and the page says {escape.quote(match.group(0))}"
    if not text and _EMPTY_APP_ROOT.search(page.raw):
        return "JavaScript required: the page is an empty app shell with no text"
    return None


def _error_page(text: str, words: int, title: str) -> str | None:
    """An error page served with status 200: a short text led by an error phrase.

    'Led by' means in the title, the first lines, or anywhere in a very short
    text, so a policy that merely mentions 'not found' is not flagged.
    """
    candidates = [title] if title else []
    lines = text.splitlines()
    candidates.append("\n".join(lines[:3]) if words >= 40 else text)
    for candidate in candidates:
        if match := _ERROR_TEXT.search(candidate):
            return f"looks like an error page ({escape.quote(match.group(0))}, {plural(words, 'word')})"
    return None
