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

import ctypes
import re
from collections import Counter
from collections.abc import Sequence
from itertools import islice, pairwise
from typing import NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from watcher.errors import ExtractionError, SuspiciousExtraction
from watcher.extract.normalise import normalise_counting
from watcher.models import Extracted, ExtractRules
from watcher.wording import plural

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
# What str.splitlines() breaks a line at, besides "\n".
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
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
    bold: bool = False  # the first and the last character are set in a bold font
    gappy: bool = False  # wide gaps between words: cells of a table row, not running text


def extract_pdf(content: bytes, *, charset: str | None, url: str, rules: ExtractRules) -> Extracted:
    """Extract normalised, reflowed text from a PDF.

    Raises ExtractionError for encrypted or corrupt files and
    SuspiciousExtraction for a PDF without a text layer.
    """
    del charset, url  # part of the common extractor signature; PDFs carry their own
    pages, lines, outline = read_document(content)
    if pages == 0:
        raise SuspiciousExtraction("PDF has no pages")
    if not any(line.text.strip() for line in lines):
        raise SuspiciousExtraction(f"PDF has no text layer ({plural(pages, 'page')})")
    kept = drop_page_furniture(lines)
    blocks, block_pages = reflow_with_pages(kept, heading_marks(kept, outline))
    joined = dehyphenate("\n".join(blocks))
    text, words = normalise_counting(joined, rules.ignore)
    return Extracted(
        text=text,
        kind="pdf",
        pages=pages,
        words=words,
        line_pages=text_pages(joined, block_pages, text, rules.ignore),
    )


def text_pages(
    joined: str, block_pages: Sequence[int], text: str, ignore: Sequence[str]
) -> tuple[int, ...]:
    """The page each line of the normalised `text` starts on.

    `joined` is the text before normalisation, one block per line, and
    `block_pages` the page of each block. Normalisation drops empty and
    ignored lines (and splits a block at any line break Unicode knows), so
    the blocks are normalised one by one to follow them; should that ever
    disagree with `text` in its number of lines, the map is cut or padded to fit.
    """
    lines = text.count("\n") + 1 if text else 0
    raw = joined.split("\n")
    if not ignore and len(raw) == len(block_pages) == lines and not _OTHER_BREAKS.search(joined):
        # The usual case: with no other line breaks, each block makes one line
        # or none, and as many lines as blocks means none was dropped.
        return tuple(block_pages)
    pages: list[int] = []
    for block, page in zip(raw, block_pages, strict=False):
        normalised = normalise_counting(block, ignore)[0]
        if normalised:
            pages.extend([page] * (normalised.count("\n") + 1))
    if len(pages) != lines:
        pages = (pages + [pages[-1] if pages else 1] * lines)[:lines]
    return tuple(pages)


# ---------------------------------------------------------------- reading


class Bookmark(NamedTuple):
    """One entry of the PDF's outline: its title, depth (0 = top) and page (None if unknown)."""

    title: str
    level: int
    page: int | None


class Document(NamedTuple):
    pages: int
    lines: list[Line]
    outline: list[Bookmark]


MAX_BOOKMARKS = 2000  # a hostile outline can be endless; real ones have tens to hundreds
MAX_OUTLINE_DEPTH = 6


def read_lines(content: bytes) -> tuple[int, list[Line]]:
    """The page count and every text line of the document, pages in order."""
    document = read_document(content)
    return document.pages, document.lines


def read_document(content: bytes) -> Document:
    """The page count, every text line (pages in order) and the outline of a PDF."""
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
        fonts = _FontNames()
        for index in range(pages):
            # each page closed as soon as read: a long document never holds them all
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    lines.extend(_page_lines(textpage, index, fonts))
                finally:
                    textpage.close()
            finally:
                page.close()
        return Document(pages, lines, _outline(document))
    # PdfiumError is a RuntimeError; pypdfium2 asserts that PDFium wrote no more text than asked
    except (RuntimeError, ValueError, OSError, IndexError, AssertionError) as exc:
        raise ExtractionError(f"corrupt PDF: {_reason(exc)}") from None
    finally:
        document.close()


def _outline(document: pdfium.PdfDocument) -> list[Bookmark]:
    """The document's bookmarks in order, at most MAX_BOOKMARKS of them."""
    bookmarks = []
    for item in islice(document.get_toc(max_depth=MAX_OUTLINE_DEPTH), MAX_BOOKMARKS):
        title = " ".join(item.get_title().split())
        if not title:
            continue
        dest = item.get_dest()
        index = dest.get_index() if dest is not None else None
        bookmarks.append(
            Bookmark(title, item.level, index if index is not None and index >= 0 else None)
        )
    return bookmarks


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


_TEXT_LINE = re.compile(r"[^\r\n]+")
_BOLD_NAME = re.compile(rb"bold|black|heavy|semibold|demi", re.IGNORECASE)
BOLD_WEIGHT = 600


class _FontNames:
    """Whether the font of a character is bold, from its weight or else its name.

    Standard fonts carry no weight (PDFium says 0 or -1), but their names do
    ("Helvetica-Bold"). One buffer serves every call.
    """

    def __init__(self) -> None:
        self.buffer = ctypes.create_string_buffer(128)
        self.flags = ctypes.c_int()

    def bold(self, raw: object, index: int) -> bool:
        weight = pdfium_c.FPDFText_GetFontWeight(raw, index)
        if weight > 0:
            return bool(weight >= BOLD_WEIGHT)
        length = pdfium_c.FPDFText_GetFontInfo(
            raw, index, self.buffer, len(self.buffer), ctypes.byref(self.flags)
        )
        return 0 < length <= len(self.buffer) and bool(_BOLD_NAME.search(self.buffer.value))


def _page_lines(textpage: pdfium.PdfTextPage, page: int, fonts: _FontNames) -> list[Line]:
    """Every line of a text page with its geometry.

    The text comes in text indexes, the geometry in character indexes: PDFium
    maps one to the other (they differ where it inserted or left out a
    character). Three character boxes, a loose box, a font size and two font
    weights per line; short lines that could be headings are also measured for
    wide gaps between their words (table cells).
    """
    text = textpage.get_text_range()
    raw = textpage.raw
    char_index, font_size = (
        pdfium_c.FPDFText_GetCharIndexFromTextIndex,
        pdfium_c.FPDFText_GetFontSize,
    )
    charbox = textpage.get_charbox
    lines = []
    spans: list[tuple[int, int]] = []  # character indexes of each line's first and last character
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
            spans.append((-1, -1))
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
                fonts.bold(raw, start) and fonts.bold(raw, end),
            )
        )
        spans.append((start, end))
    if not lines:
        return lines
    # Heading candidates: short lines, bold or larger than the page's usual size.
    sizes = [entry.size for entry in lines if entry.size]
    usual = _percentile(sizes, 0.5) if sizes else None
    for position, (entry, (start, end)) in enumerate(zip(lines, spans, strict=True)):
        if (
            start < 0
            or end - start > 160
            or not (entry.bold or (usual and entry.size and entry.size > usual))
        ):
            continue
        if _has_gaps(textpage, start, end, entry.size or 10.0):
            lines[position] = entry._replace(gappy=True)
    return lines


def _has_gaps(textpage: pdfium.PdfTextPage, start: int, end: int, size: float) -> bool:
    """Whether two words of a line stand farther apart than twice the font size."""
    raw = textpage.raw
    previous_right: float | None = None
    for index in range(start, end + 1):
        if pdfium_c.FPDFText_GetUnicode(raw, index) == 32:
            continue
        box = textpage.get_charbox(index)
        if previous_right is not None and box[0] - previous_right > 2 * size:
            return True
        previous_right = box[2]
    return False


# ---------------------------------------------------------------- page furniture


def _edge_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _furniture(line: Line, top: bool, seen: _EdgeCounts) -> bool:
    """Whether an edge line is a page number, a running header or a footer."""
    if _PAGE_NUMBER.match(line.text):
        return True
    key = _edge_key(line.text)
    if seen.body is None or line.size is None:
        return key in seen.repeated
    if line.size >= HEADING_SIZE * seen.body:
        return False  # the title, under a running header that repeats it
    if key in seen.repeated:
        return True
    if line.size >= 0.95 * seen.body:
        return False
    # Smaller than the body: a header repeated on two pages, or the title of a heading
    # printed over the pages of its chapter. A footnote may repeat at the foot of a page.
    return (top and seen.top[key] >= 2) or key in seen.headings


class _EdgeCounts(NamedTuple):
    repeated: set[str]  # keys at the edges of half the pages or more
    top: Counter[str]  # pages with each key at their top edge
    headings: set[str]  # keys of lines set larger or bolder than the body
    body: float | None


def drop_page_furniture(lines: Sequence[Line]) -> list[Line]:
    """Drop page numbers and running headers/footers found at the top or bottom of pages.

    A running header or footer is an edge line whose text (digits aside)
    comes back at the edges of half the pages or more; or, set smaller than
    the body text, at the top of two pages or more (alternating left and
    right headers) or as a heading of the document (a chapter's title over
    its pages).
    """
    by_page: dict[int, list[Line]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    counts: Counter[str] = Counter()
    top: Counter[str] = Counter()
    for page_lines in by_page.values():
        n = len(page_lines)
        first = {_edge_key(line.text) for line in page_lines[:EDGE_LINES]}
        top.update(first)
        counts.update(
            first | {_edge_key(line.text) for line in page_lines[max(0, n - EDGE_LINES) :]}
        )
    pages = len(by_page)
    body, body_bold = body_style(lines)
    seen = _EdgeCounts(
        repeated={
            key for key, count in counts.items() if pages >= 3 and count >= max(3, pages / 2)
        },
        top=top,
        headings={
            _edge_key(line.text)
            for line in lines
            if body is not None
            and line.size is not None
            and (line.size >= HEADING_SIZE * body or (line.bold and not body_bold))
        },
        body=body,
    )
    kept = []
    for page_lines in by_page.values():
        n = len(page_lines)
        for position, line in enumerate(page_lines):
            edge = position < EDGE_LINES or position >= n - EDGE_LINES
            if edge and _furniture(line, position < EDGE_LINES, seen):
                continue
            kept.append(line)
    return kept


# ---------------------------------------------------------------- headings

# "3.", "2.3", "2.3.1", "IV.", "A.", "Appendix A", "Part II", "Section 4", "Chapter 2"
_NUMBERING = re.compile(
    r"^(?:(?:appendix|annex|part|section|chapter|schedule)\s+(?:[A-Z]|[IVXLC]+|\d+)\b[.:]?"
    r"|(\d{1,2}(?:\.\d{1,2}){0,4})\.?(?=\s)|[IVXLC]{1,6}\.(?=\s)|[A-Z]\.(?=\s))",
    re.IGNORECASE,
)
_CAPTION = re.compile(
    r"^(?:figure|fig\.|table|exhibit|chart|graph|source|sources|note|notes)\s*[\dIVX]*\s*[:.—–-]",
    re.IGNORECASE,
)
_KEY_DROP = re.compile(r"[\W_]+")
HEADING_SIZE = 1.12  # a line this much larger than the body text is set as a heading
MAX_HEADING_LINES = 3
MAX_HEADING_WORDS = 24
MAX_BODY_HEADING_WORDS = 14  # a bold heading in the body size is shorter than a sentence


class Mark(NamedTuple):
    """A line's heading level (0 = body text) and whether it starts a heading."""

    level: int
    start: bool


BODY = Mark(0, False)


def _numbering_depth(text: str) -> int:
    """1 for "3." or "Appendix A", 2 for "2.3", 3 for "2.3.1"; 0 without numbering."""
    match = _NUMBERING.match(text)
    if not match:
        return 0
    return match.group(1).count(".") + 1 if match.group(1) else 1


def _title_key(text: str) -> str:
    """A heading's words without numbering, case, punctuation or spacing."""
    match = _NUMBERING.match(text)
    if match and match.end() < len(text):
        text = text[match.end() :]
    return _KEY_DROP.sub("", text.casefold())


def body_style(lines: Sequence[Line]) -> tuple[float | None, bool]:
    """The font size most of the text is set in, and whether that text is bold."""
    sizes: Counter[float] = Counter()
    for line in lines:
        if line.size:
            sizes[round(line.size * 2) / 2] += len(line.text)
    if not sizes:
        return None, False
    size = sizes.most_common(1)[0][0]
    chars = bold = 0
    for line in lines:
        if line.size and round(line.size * 2) / 2 == size:
            chars += len(line.text)
            bold += len(line.text) if line.bold else 0
    return size, bold > chars / 2


def heading_marks(lines: Sequence[Line], outline: Sequence[Bookmark] = ()) -> list[Mark]:
    """Which lines are headings, at what level.

    The outline decides when the document has one and its titles are found on
    the pages (at least half of them); otherwise typography does.
    """
    if outline:
        marks = _outline_marks(lines, outline)
        if marks is not None:
            return marks
    return _typographic_marks(lines)


def _outline_marks(lines: Sequence[Line], outline: Sequence[Bookmark]) -> list[Mark] | None:
    """Each bookmark matched, in order, to the line(s) on its page that print its title."""
    marks = [BODY] * len(lines)
    keys = [_title_key(line.text) for line in lines]
    top = min(bookmark.level for bookmark in outline)
    cursor = found = 0
    for bookmark in outline:
        wanted = _title_key(bookmark.title)
        if not wanted:
            continue
        run = _find_title(lines, keys, wanted, bookmark.page, cursor)
        if run is None:
            continue
        first, last = run
        level = min(6, bookmark.level - top + 1)
        for index in range(first, last + 1):
            marks[index] = Mark(level, index == first)
        cursor = last + 1
        found += 1
    return marks if found * 2 >= len(outline) else None


def _find_title(
    lines: Sequence[Line], keys: Sequence[str], wanted: str, page: int | None, cursor: int
) -> tuple[int, int] | None:
    """The first run of up to MAX_HEADING_LINES lines from `cursor` whose words are `wanted`.

    A bookmark may point at the page before its heading (a heading at the top
    of a page) or after it: its page and the next are searched.
    """
    for first in range(cursor, len(lines)):
        line = lines[first]
        if page is not None and line.page < page - 1:
            continue
        if page is not None and line.page > page + 1:
            return None
        joined = ""
        for last in range(first, min(first + MAX_HEADING_LINES, len(lines))):
            joined += keys[last]
            if joined == wanted:
                return first, last
            if not joined or not wanted.startswith(joined):
                break
    return None


def _style(line: Line) -> tuple[float, bool]:
    return (round(line.size * 2) / 2 if line.size else 0.0), line.bold


def _typographic_marks(lines: Sequence[Line]) -> list[Mark]:
    """Headings from typography: larger than the body text, or bold where the body is not.

    A heading is a run of up to three lines in one style. Guards keep out what
    looks like one but is not: a table row (ending with wide gaps between
    cells, or bold cells side by side), a caption ("Figure 2:"), a sentence (ends with a full stop,
    or the next line carries on in lower case), a one-word capitalised label
    in the body size, an emphasised passage too long for a heading.
    """
    marks = [BODY] * len(lines)
    size, body_bold = body_style(lines)
    if size is None:
        return marks

    def candidate(line: Line) -> bool:
        if not line.size or line.size < 0.95 * size:
            return False
        return line.size >= HEADING_SIZE * size or (line.bold and not body_bold)

    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        if not candidate(lines[index]):
            index += 1
            continue
        first = index
        style = _style(lines[first])
        index += 1
        while (
            index < len(lines)
            and index - first < MAX_HEADING_LINES
            and candidate(lines[index])
            and _style(lines[index]) == style
            and not _NUMBERING.match(lines[index].text)
            and not _side_by_side(lines[index - 1], lines[index])
        ):
            index += 1
        # Justified lines have wide gaps too, but the last line of a paragraph is
        # not justified: a run ending with wide gaps is a table row.
        if not lines[index - 1].gappy:
            runs.append((first, index - 1))

    accepted: list[tuple[int, int, tuple[float, bool], int]] = []
    for first, last in runs:
        text = " ".join(line.text for line in lines[first : last + 1])
        following = lines[last + 1] if last + 1 < len(lines) else None
        if _is_heading_text(text, lines[first], size, following) and not _in_a_row(lines, first):
            accepted.append((first, last, _style(lines[first]), _numbering_depth(text)))
    for (first, last), level in zip(
        ((first, last) for first, last, _, _ in accepted), _levels(accepted), strict=True
    ):
        for index in range(first, last + 1):
            marks[index] = Mark(level, index == first)
    return marks


def _side_by_side(a: Line, b: Line) -> bool:
    """Two lines on one baseline of one page: cells of a table row, or two columns."""
    return (
        a.page == b.page
        and a.baseline is not None
        and b.baseline is not None
        and abs(a.baseline - b.baseline) < 1.0
    )


def _in_a_row(lines: Sequence[Line], index: int) -> bool:
    """A bold line with a bold neighbour on its baseline: a table's header cells."""
    line = lines[index]
    for other in (index - 1, index + 1):
        if 0 <= other < len(lines) and lines[other].bold and _side_by_side(line, lines[other]):
            return True
    return False


def _is_heading_text(text: str, first: Line, size: float, following: Line | None) -> bool:
    words = text.split()
    larger = bool(first.size and first.size >= HEADING_SIZE * size)
    if not words or len(words) > (MAX_HEADING_WORDS if larger else MAX_BODY_HEADING_WORDS):
        return False
    if not any(character.isalpha() for character in text) or _PAGE_NUMBER.match(text):
        return False
    numbered = bool(_NUMBERING.match(text))
    if text.endswith((",", ";", HYPHEN_JOIN, "\u00ad")):
        return False
    if text.endswith(".") and not (numbered and len(words) == 1) and len(words) > 3:
        return False  # a sentence
    if _CAPTION.match(text) or _BULLET.match(text) or text[:2] in ("- ", "* "):
        return False
    if not (text[0].isupper() or text[0].isdigit() or numbered):
        return False
    if not larger and len(words) == 1 and text.isupper() and not numbered:
        return False  # "NOTE", "WARNING": a label
    # The next line carries on the sentence in lower case: emphasis, not a heading.
    return not (
        following is not None
        and not larger
        and following.text[:1].islower()
        and not text.endswith((":", ".", "?", "!"))
        and following.page == first.page
        and following.size == first.size
    )


def _levels(accepted: Sequence[tuple[int, int, tuple[float, bool], int]]) -> list[int]:
    """Heading levels: larger styles first, bold before regular, then numbering depth.

    Within one style, numbering tells levels apart ("2.3" under "2."); an
    unnumbered heading of a style takes the style's usual numbering depth.
    """
    depths: dict[tuple[float, bool], Counter[int]] = {}
    for _, _, style, depth in accepted:
        if depth:
            depths.setdefault(style, Counter())[depth] += 1
    usual = {style: counts.most_common(1)[0][0] for style, counts in depths.items()}
    keys = [
        (-style[0], not style[1], depth or usual.get(style, 0)) for _, _, style, depth in accepted
    ]
    rank = {key: position + 1 for position, key in enumerate(sorted(set(keys)))}
    return [min(6, rank[key]) for key in keys]


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


def reflow(lines: Sequence[Line], marks: Sequence[Mark] | None = None) -> list[str]:
    """Join wrapped lines into blocks, one block per output line; bullets become '- '.

    With `marks`, the lines of a heading make one block of their own, written
    as a Markdown heading ('## 2.3 Scope'), like an HTML heading.
    """
    return reflow_with_pages(lines, marks)[0]


def reflow_with_pages(
    lines: Sequence[Line], marks: Sequence[Mark] | None = None
) -> tuple[list[str], list[int]]:
    """`reflow`, and the page (from 1) each block starts on: a paragraph
    carried over a page break belongs to its first page."""
    margins = _margins(lines)
    spacing = _typical_spacing(lines)
    blocks: list[list[str]] = []
    levels: list[int] = []
    pages: list[int] = []
    previous: Line | None = None
    previous_level = 0
    for position, line in enumerate(lines):
        text = line.text
        mark = marks[position] if marks is not None else BODY
        if mark.level:
            if mark.start or not previous_level:
                blocks.append([text])
                levels.append(mark.level)
                pages.append(line.page + 1)
            else:
                blocks[-1].append(text)
        else:
            if text[:1] in _BULLET_START:
                text = _BULLET.sub("- ", text)
            if (
                previous is not None
                and not previous_level
                and _continues(previous, line, margins.get(previous.page), spacing)
            ):
                blocks[-1].append(text)
            else:
                blocks.append([text])
                levels.append(0)
                pages.append(line.page + 1)
        previous, previous_level = line, mark.level
    return [
        ("#" * level + " " if level else "") + (parts[0] if len(parts) == 1 else _join(parts))
        for parts, level in zip(blocks, levels, strict=True)
    ], pages


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
