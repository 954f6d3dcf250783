"""PDF → text with pypdfium2, reflowed into one paragraph per line.

PDF lines wrap at the page width, so the same paragraph re-typeset at a
different width (a silent re-upload, a new template) would otherwise diff as
a rewrite. Lines are joined into paragraphs by geometry: a line continues
into the next when the next line's first word would not have fitted on it
(the typesetter had to wrap). Bullets, numbered items and changes of font
size always start a new block. Page-number lines and running headers and
footers at the page edges are dropped.

PDFium is not thread-safe; the pipeline runs this in a worker process.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from watcher.errors import ExtractionError, SuspiciousExtraction
from watcher.extract.normalise import normalise_counting
from watcher.models import Extracted, ExtractRules

HYPHEN_JOIN = "\ufffe"  # PDFium's mark for a line-end hyphen it joined to the next line
BULLET_CHARS = "•◦▪▫●○■□‣∙⁃\uf0b7\uf0a7\uf0d8\uf0fc\uf076"
_BULLET = re.compile(rf"^[{BULLET_CHARS}]\s*")
_ROMAN = r"(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3})"  # i to xxxix, not words like "civil"
# A line that starts a list item: "- x", "* x", "1. x", "1) x", "(a) x", "a) x", "iv. x", "2.1 x".
_ITEM = re.compile(
    rf"^(?:[-*]\s|\(?\d{{1,3}}[.)]\s|\([a-zA-Z]{{1,4}}\)\s|[a-z][.)]\s|{_ROMAN}[.)]\s|\d{{1,2}}(?:\.\d{{1,2}})+\.?\s)"
)
_PAGE_NUMBER = re.compile(
    rf"^(?:(?:page|p\.|seite)\s*)?(?:\d{{1,4}}|{_ROMAN})(?:\s*(?:/|of|von)\s*\d{{1,4}})?$"
    r"|^[-–—]\s*\d{1,4}\s*[-–—]$",
    re.IGNORECASE,
)
_SENTENCE_END = (".", "!", "?", ":", ";", ".”", '."', "?”", "!”")
# Right-hand fragments of a word broken by hyphenation (not of a compound word).
_SUFFIX = re.compile(
    r"^(?:ments?|tions?|sions?|ations?|ities|ity|ings?|ness|ances?|ences?|ibl[ey]|abl[ey]|ably|ibly|ives?"
    r"|ous(?:ly)?|ally|ly|ed|ers?|est|isms?|ists?|i[sz]e[sd]?|i[sz]ing|ures?|ships?|ics?|ical|ified|ify|ency|ancy)$"
)
_HYPHENATED = re.compile(rf"([\w-]*\w){HYPHEN_JOIN}(\w[\w-]*)")
_WORD = re.compile(r"\w[\w-]*\w|\w")
EDGE_LINES = 2  # lines at the top and bottom of a page that may be running headers/footers


class Line(NamedTuple):
    """One line of text as PDFium laid it out, with what reflow needs of its geometry.

    Positions are in PDF points; they are None when PDFium could not give them.
    A named tuple, not a frozen dataclass: a 40-page PDF makes ~1,200 of them,
    and a frozen dataclass costs 3 µs each to build.
    """

    text: str
    page: int
    right: float | None = None  # right edge of the last character
    first_word: float | None = None  # width of the first word
    size: float | None = None  # font size of the first character
    left: float | None = None  # left edge of the first character
    baseline: float | None = None  # bottom of the first character's font box (y grows upwards)


def extract_pdf(content: bytes, *, charset: str | None, url: str, rules: ExtractRules) -> Extracted:
    """Extract normalised, reflowed text from a PDF.

    Raises ExtractionError for encrypted or corrupt files and
    SuspiciousExtraction for a PDF without a text layer.
    """
    del charset, url  # part of the common extractor signature; PDFs carry their own
    pages, lines = read_lines(content)
    if pages == 0:
        raise SuspiciousExtraction("PDF has no pages")
    if not any(line.text.strip() for line in lines):
        raise SuspiciousExtraction(f"PDF has no text layer ({pages} pages)")
    text, words = normalise_counting(
        dehyphenate("\n".join(reflow(drop_page_furniture(lines)))), rules.ignore
    )
    return Extracted(text=text, kind="pdf", pages=pages, words=words)


# ---------------------------------------------------------------- reading


def read_lines(content: bytes) -> tuple[int, list[Line]]:
    """The page count and every text line of the document, pages in order."""
    try:
        document = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise ExtractionError("encrypted PDF: it needs a password to open") from None
        raise ExtractionError(f"corrupt PDF: {_reason(exc)}") from None
    except (RuntimeError, ValueError, OSError) as exc:
        raise ExtractionError(f"corrupt PDF: {_reason(exc)}") from None
    try:
        lines: list[Line] = []
        pages = len(document)
        for index in range(pages):
            # each page closed as soon as read: a long document never holds them all
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    lines.extend(_page_lines(textpage, index))
                finally:
                    textpage.close()
            finally:
                page.close()
        return pages, lines
    # PdfiumError is a RuntimeError; pypdfium2 asserts that PDFium wrote no more text than asked
    except (RuntimeError, ValueError, OSError, IndexError, AssertionError) as exc:
        raise ExtractionError(f"corrupt PDF: {_reason(exc)}") from None
    finally:
        document.close()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


_TEXT_LINE = re.compile(r"[^\r\n]+")


def _page_lines(textpage: pdfium.PdfTextPage, page: int) -> list[Line]:
    """Every line of a text page with its geometry.

    The text comes in text indexes, the geometry in character indexes: PDFium
    maps one to the other (they differ where it inserted or left out a
    character). Three character boxes, a loose box and a font size per line.
    """
    text = textpage.get_text_range()
    raw = textpage.raw
    char_index, font_size = (
        pdfium_c.FPDFText_GetCharIndexFromTextIndex,
        pdfium_c.FPDFText_GetFontSize,
    )
    charbox = textpage.get_charbox
    lines = []
    for match in _TEXT_LINE.finditer(text):
        line = match.group()
        stripped = line.strip()
        if not stripped:
            continue
        first = match.start() + line.index(stripped[0])
        last = first + len(stripped) - 1
        space = stripped.find(" ")
        word_end = first + (space if space > 0 else len(stripped)) - 1
        start = char_index(raw, first)
        end = char_index(raw, last)
        word = char_index(raw, word_end)
        if start < 0 or end < 0 or word < 0:
            lines.append(Line(stripped, page))
            continue
        right = charbox(end)[2]
        # a line of one word: its first word ends where it does
        word_right = right if word == end else charbox(word)[2]
        left = charbox(start)[0]
        # the loose box covers the font's bounds: the same for every glyph of a font
        baseline = charbox(start, loose=True)[1]
        size = font_size(raw, start)
        lines.append(
            Line(
                stripped,
                page,
                right,
                max(0.0, word_right - left),
                size if size > 0 else None,
                left,
                baseline,
            )
        )
    return lines


# ---------------------------------------------------------------- page furniture


def _edge_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def drop_page_furniture(lines: Sequence[Line]) -> list[Line]:
    """Drop page numbers and running headers/footers found at the top or bottom of pages."""
    by_page: dict[int, list[Line]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    edges: dict[int, set[int]] = {}  # page → positions of its edge lines
    counts: Counter[str] = Counter()
    for page, page_lines in by_page.items():
        n = len(page_lines)
        positions = set(range(min(EDGE_LINES, n))) | set(range(max(0, n - EDGE_LINES), n))
        edges[page] = positions
        counts.update({_edge_key(page_lines[i].text) for i in positions})
    pages = len(by_page)
    repeated = {key for key, count in counts.items() if pages >= 3 and count >= max(3, pages / 2)}
    kept = []
    for page, page_lines in by_page.items():
        for position, line in enumerate(page_lines):
            if position in edges[page] and (
                _PAGE_NUMBER.match(line.text) or _edge_key(line.text) in repeated
            ):
                continue
            kept.append(line)
    return kept


# ---------------------------------------------------------------- reflow


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def _margins(lines: Sequence[Line]) -> dict[int, float]:
    """The right margin of each page: where full lines end.

    The 90th percentile of the right edges of lines of four words or more,
    robust to a wide table or a long URL; pages with too few such lines use
    the document's value.
    """
    rights: dict[int, list[float]] = {}
    for line in lines:
        # split(None, 3) has four parts exactly when the line has four words or more
        if line.right is not None and len(line.text.split(None, 3)) == 4:
            rights.setdefault(line.page, []).append(line.right)
    everything = [right for values in rights.values() for right in values]
    if not everything:
        return {}
    default = _percentile(everything, 0.9)
    margins = {
        page: _percentile(values, 0.9) for page, values in rights.items() if len(values) >= 4
    }
    return {page: margins.get(page, default) for page in {line.page for line in lines}}


# The characters a list item can start with, decimal digits aside: a line
# starting otherwise (most lines) needs neither regex.
_ITEM_START = frozenset(BULLET_CHARS + "-*(abcdefghijklmnopqrstuvwxyz")


def _is_item(text: str) -> bool:
    first = text[:1]
    if not first or not (first in _ITEM_START or first.isdecimal()):
        return False
    return bool(_BULLET.match(text) or _ITEM.match(text))


def _lone_bullet(text: str) -> bool:
    """A bullet glyph on a line of its own (or nothing at all)."""
    return not text or (text[0] in BULLET_CHARS and not text[1:].strip())


def _heading_like(text: str) -> bool:
    words = text.split()
    return (
        0 < len(words) <= 10
        and not text.endswith((".", ",", ";", ":", HYPHEN_JOIN))
        and (text[0].isupper() or text[0].isdigit())
    )


def _spacing(previous: Line, line: Line) -> float | None:
    """Distance between two lines' baselines in units of font size (None across pages)."""
    if previous.page != line.page or previous.baseline is None or line.baseline is None:
        return None
    if not line.size:
        return None
    return (previous.baseline - line.baseline) / line.size


def _typical_spacing(lines: Sequence[Line]) -> float | None:
    """The document's usual line spacing: the median over consecutive same-size lines."""
    spacings = []
    for previous, line in pairwise(lines):
        if previous.size == line.size:
            spacing = _spacing(previous, line)
            if spacing is not None and 0.5 < spacing < 3:
                spacings.append(spacing)
    return _percentile(spacings, 0.5) if spacings else None


def _continues(previous: Line, line: Line, margin: float | None, spacing: float | None) -> bool:
    """Whether `line` continues the paragraph that `previous` belongs to."""
    if _is_item(line.text):
        return False
    before = previous.text
    if _lone_bullet(before):
        return True  # a bullet glyph on a line of its own: the item text follows
    if before.endswith("\u00ad"):
        return True
    if (
        previous.size
        and line.size
        and abs(previous.size - line.size) > 0.15 * max(previous.size, line.size)
    ):
        return False  # a heading starts or ends
    if spacing is not None:
        gap = _spacing(previous, line)
        if gap is not None and gap > 1.3 * spacing:
            return False  # space between paragraphs
    ends_sentence = before.endswith(_SENTENCE_END)
    # A short capitalised line without a full stop after a sentence: a heading
    # typeset in the body font. A wrapped paragraph rarely leaves such a tail.
    if (
        ends_sentence
        and _heading_like(line.text)
        and len(line.text.split()) <= 6
        and (
            margin is None
            or line.right is None
            or line.left is None
            or margin - line.right > 0.3 * (margin - line.left)
        )
    ):
        return False
    if margin is None or previous.right is None or line.first_word is None:
        return not ends_sentence
    space = 0.4 * (previous.size or 10.0)
    # The typesetter wrapped when the next word would not fit on this line.
    return margin - previous.right < line.first_word + space + 1.0


def reflow(lines: Sequence[Line]) -> list[str]:
    """Join wrapped lines into blocks, one block per output line; bullets become '- '."""
    margins = _margins(lines)
    spacing = _typical_spacing(lines)
    blocks: list[list[str]] = []
    previous: Line | None = None
    for line in lines:
        text = line.text
        if text[:1] in _BULLET_START:
            text = _BULLET.sub("- ", text)
        if previous is not None and _continues(previous, line, margins.get(previous.page), spacing):
            blocks[-1].append(text)
        else:
            blocks.append([text])
        previous = line
    return [parts[0] if len(parts) == 1 else _join(parts) for parts in blocks]


_BULLET_START = frozenset(BULLET_CHARS)


def _join(parts: list[str]) -> str:
    pieces = [parts[0]]
    for part in parts[1:]:
        last = pieces[-1]
        if last.endswith("\u00ad"):
            pieces[-1] = last[:-1]  # a soft hyphen at a line end: one word
            pieces.append(part)
        elif last.endswith(" "):  # a bullet glyph on its own line: "- " + the item
            pieces.append(part)
        elif last.endswith(("-", "–", "—", "/")) and len(last) > 1 and not last[-2].isspace():
            pieces.append(part)  # "2024-" + "2025", "and/" + "or": no space
        else:
            pieces.append(" " + part)
    return "".join(pieces)


# ---------------------------------------------------------------- hyphenation


def dehyphenate(text: str) -> str:
    """Resolve PDFium's joined line-end hyphens (U+FFFE).

    PDFium marks both 'commit-|ment' and 'third-|party' the same way. The
    document's own vocabulary decides first (is 'thirdparty' or 'third-party'
    used elsewhere?); then a capital or digit after the break keeps the hyphen,
    a suffix-like fragment ('ment', 'tion', 'ity'...) joins, and anything else
    keeps the hyphen, which is what was printed.
    """
    if HYPHEN_JOIN not in text:
        return text
    vocabulary = Counter(_WORD.findall(_HYPHENATED.sub(" ", text).lower()))

    def resolve(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        joined = vocabulary[(left + right).lower()]
        hyphenated = vocabulary[f"{left}-{right}".lower()]
        if joined != hyphenated:
            return left + right if joined > hyphenated else f"{left}-{right}"
        if right[0].isupper() or right[0].isdigit():
            return f"{left}-{right}"
        if _SUFFIX.match(right.lower()):
            return left + right
        return f"{left}-{right}"

    return _HYPHENATED.sub(resolve, text).replace(HYPHEN_JOIN, "-")
