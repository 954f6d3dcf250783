"""HTML → Markdown-like text: one block per line, headings as `#`, list items as `- `.

The walk is a single pass over the BeautifulSoup tree (lxml parser) that
collects inline text into a line buffer and flushes it at block boundaries,
so a 300 KB page costs little more than its parse.

`extract_html` first tries the fast path of extract/lxml_render.py (the same
rules over a plain lxml tree, ~4× less CPU); whatever that path cannot
promise to render identically comes back here (`extract_html_soup`).
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Iterable
from urllib.parse import urljoin

import soupsieve
from bs4 import BeautifulSoup, NavigableString, PageElement, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import PreformattedString
from bs4.exceptions import ParserRejectedMarkup
from soupsieve import SelectorSyntaxError

from watcher.errors import ExtractionError, SuspiciousExtraction
from watcher.extract.normalise import collapse_whitespace, normalise_counting, normalise_line
from watcher.models import Extracted, ExtractRules, Link

# Never visible as text, or not text at all.
DROPPED = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "iframe", "frame", "frameset",
        "object", "embed", "applet", "canvas", "head", "title", "meta", "link", "base",
        "input", "select", "textarea", "button", "option", "optgroup", "datalist", "output",
        "progress", "meter", "img", "picture", "video", "audio", "source", "track", "map",
        "area", "dialog",
    }
)  # fmt: skip
# Elements that start and end a line of text.
BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer",
        "form", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol",
        "p", "section", "summary", "table", "tbody", "thead", "tfoot", "td", "th", "ul",
    }
)  # fmt: skip
HEADINGS = {f"h{level}": "#" * level + " " for level in range(1, 7)}
CELLS = frozenset({"td", "th"})

_WHITESPACE = re.compile(r"\s+")
_URL_NOISE = re.compile(r"[\t\n\r]")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# WHATWG: these labels mean windows-1252 in practice (C1 bytes are curly quotes, dashes).
_LATIN1_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii"}
)
_UTF16 = frozenset({"utf-16", "utf-16le", "utf-16be", "utf16"})


# ---------------------------------------------------------------- decoding


def decode_markup(content: bytes, charset: str | None, *, is_html: bool) -> str:
    """Bytes → str: header charset, then a BOM, then the document's own declaration
    (<meta charset>, http-equiv, <?xml encoding?>), then UTF-8, then windows-1252.

    A label that does not decode the bytes is skipped, so a mislabelled page still
    decodes; the last resort is UTF-8 with replacement characters. Never raises.
    """
    detector = EncodingDetector(
        content, known_definite_encodings=[charset] if charset else [], is_html=is_html
    )
    markup = detector.markup  # without the byte-order mark
    for label in detector.encodings:
        encoding = label.lower()
        if encoding in _LATIN1_ALIASES:
            encoding = "windows-1252"
        elif encoding in _UTF16 and label != detector.sniffed_encoding:
            # A declared UTF-16 without a BOM is a copy-paste mistake in 8-bit pages.
            encoding = "utf-8"
        try:
            codecs.lookup(encoding)
            return markup.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return markup.decode("utf-8", errors="replace")


def parse(content: bytes, charset: str | None) -> BeautifulSoup:
    """Decode and parse with lxml; malformed markup is repaired, not refused."""
    return _parse_markup(decode_markup(content, charset, is_html=True))


def _parse_markup(markup: str) -> BeautifulSoup:
    try:
        with warnings.catch_warnings():
            # An XHTML page with an XML prolog is still a web page to us.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            return BeautifulSoup(markup, "lxml")
    except ParserRejectedMarkup as exc:
        raise ExtractionError(f"HTML could not be parsed: {' '.join(str(exc).split())}") from None


# ---------------------------------------------------------------- selection


def compile_selector(selector: str) -> soupsieve.SoupSieve:
    """Compile a CSS selector (soupsieve caches compiled patterns) or say what is wrong."""
    try:
        return soupsieve.compile(selector)
    except (SelectorSyntaxError, ValueError, NotImplementedError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExtractionError(f"invalid CSS selector {selector!r}: {first_line}") from None


def _select(root: Tag, selectors: Iterable[str]) -> list[Tag]:
    """Elements matching any of the selectors, in document order, each once.

    One walk of the tree for all of them: each selector is validated on its
    own (so an error names it), then matched as one selector list.
    """
    selectors = list(selectors)
    for selector in selectors:
        compile_selector(selector)
    if not selectors:
        return []
    return list(compile_selector(", ".join(selectors)).select(root))


def find_links(soup: BeautifulSoup, selector: str, page_url: str) -> tuple[Link, ...]:
    """Links matched by a `follow` selector: absolute http(s) URLs without fragment,
    de-duplicated by URL in page order. A matched element without href contributes
    the <a href> inside it."""
    base_url = page_url
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        base_url = urljoin(page_url, _attr(base, "href"))
    links: dict[str, Link] = {}
    for element in _select(soup, [selector]):
        anchors = [element] if element.has_attr("href") else element.select("a[href], area[href]")
        for anchor in anchors:
            # Browsers strip surrounding whitespace and drop tabs/newlines inside an href.
            href = _URL_NOISE.sub("", _attr(anchor, "href").strip())
            if not href:
                continue
            url = urljoin(base_url, href).split("#", 1)[0]
            if not url[:8].lower().startswith(("http://", "https://")) or url in links:
                continue
            text = normalise_line(anchor.get_text(" "))
            text = text or normalise_line(_attr(anchor, "aria-label") or _attr(anchor, "title"))
            links[url] = Link(url=url, text=text)
    return tuple(links.values())


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _roots(soup: BeautifulSoup, selectors: tuple[str, ...]) -> list[Tag]:
    """The matches of all selectors, in document order, none inside another."""
    matches = _select(soup, selectors)
    chosen = {id(tag) for tag in matches}
    return [tag for tag in matches if not any(id(parent) in chosen for parent in tag.parents)]


def page_title(soup: BeautifulSoup) -> str:
    title = soup.find("title")
    return normalise_line(title.get_text()) if isinstance(title, Tag) else ""


# ---------------------------------------------------------------- rendering


def _hidden(tag: Tag) -> bool:
    attrs = tag.attrs
    if "hidden" in attrs:
        return True
    if str(attrs.get("aria-hidden", "")).strip().lower() == "true":
        return True
    style = attrs.get("style")
    return bool(style) and _HIDDEN_STYLE.search(str(style)) is not None


class LineBuffer:
    """Collects lines; inline text accumulates in `buffer` until a block boundary.

    Shared by both renderers (BeautifulSoup's tree here, lxml's in
    lxml_render.py), which must produce the same lines.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.prefix = ""  # "- " or "# ", consumed by the next non-empty line
        self.inline_breaks = 0  # >0 inside headings and cells: <br> is a space there

    def flush(self) -> None:
        if not self.buffer:
            return
        text = collapse_whitespace("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.lines.append(self.prefix + text)
            self.prefix = ""

    def emit(self, line: str) -> None:
        self.flush()
        if line:
            self.lines.append(self.prefix + line)
            self.prefix = ""


class _Renderer(LineBuffer):
    """Renders BeautifulSoup's tree into lines."""

    def walk(self, nodes: Iterable[PageElement]) -> None:
        """Render nodes in document order without recursion (pages nest thousands deep)."""
        stack: list[tuple[PageElement, bool]] = [(node, False) for node in reversed(list(nodes))]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self.leave(node)
            elif isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                    self.buffer.append(_WHITESPACE.sub(" ", node))
            elif isinstance(node, Tag) and self.enter(node):
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.contents))

    def enter(self, tag: Tag) -> bool:
        """Start an element; True when its children are to be walked."""
        name = tag.name
        if name in DROPPED or _hidden(tag):
            return False
        if name == "br":
            if self.inline_breaks:
                self.buffer.append(" ")
            else:
                self.flush()
            return False
        if name == "tr":
            self.emit_row(tag)
            return False
        if name == "pre":
            self.flush()
            for line in tag.get_text().splitlines():
                self.emit(line.strip())
            return False
        if name in HEADINGS:
            self.flush()
            self.prefix = HEADINGS[name]
            self.inline_breaks += 1
        elif name == "li":
            self.flush()
            self.prefix = "- "
        elif name in BLOCKS:
            self.flush()
        return True

    def leave(self, node: PageElement) -> None:
        name = node.name if isinstance(node, Tag) else ""
        if name in HEADINGS:
            self.inline_breaks -= 1
        if name in HEADINGS or name == "li":
            self.flush()
            self.prefix = ""  # an empty heading or item leaves no dangling prefix
        elif name in BLOCKS:
            self.flush()

    def emit_row(self, row: Tag) -> None:
        cells: list[list[str]] = []
        for cell in row.contents:
            if isinstance(cell, Tag) and cell.name in CELLS and not _hidden(cell):
                sub = _Renderer()
                sub.walk(cell.contents)
                sub.flush()
                if sub.lines:
                    cells.append(sub.lines)
        self.flush()
        if len(cells) == 1:
            # A one-cell row is usually layout: keep its block structure.
            for line in cells[0]:
                self.emit(line)
        elif cells:
            self.emit(" | ".join(" ".join(lines) for lines in cells))


def render(roots: Iterable[Tag]) -> str:
    """Markdown-like text of the given elements (not yet normalised)."""
    renderer = _Renderer()
    for root in roots:
        renderer.walk([root])
        renderer.flush()
    return "\n".join(renderer.lines)


# ---------------------------------------------------------------- extractor


def extract_html(
    content: bytes, *, charset: str | None, url: str, rules: ExtractRules
) -> Extracted:
    """Extract normalised text and followed links from an HTML document.

    `follow` sees the whole document; then `remove`, then `select`.
    Raises SuspiciousExtraction when `select` matches nothing.
    """
    # Imported here: lxml_render shares this module's tag sets.
    from watcher.extract.lxml_render import extract_fast

    markup = decode_markup(content, charset, is_html=True)
    try:
        fast = extract_fast(markup, url=url, rules=rules)
    except RecursionError:
        fast = None  # nested tables: let the bs4 path decide
    if fast is not None:
        return fast
    return _extract_soup(markup, url=url, rules=rules)


def extract_html_soup(
    content: bytes, *, charset: str | None, url: str, rules: ExtractRules
) -> Extracted:
    """`extract_html` always by BeautifulSoup: the reference the fast path must equal."""
    return _extract_soup(decode_markup(content, charset, is_html=True), url=url, rules=rules)


def _extract_soup(markup: str, *, url: str, rules: ExtractRules) -> Extracted:
    try:
        return _extract_html(markup, url=url, rules=rules, soup=_parse_markup(markup))
    except RecursionError:
        # Only nested tables recurse here; bs4 itself recurses in a few places.
        raise ExtractionError("HTML nested too deeply to extract") from None


def _extract_html(markup: str, *, url: str, rules: ExtractRules, soup: BeautifulSoup) -> Extracted:
    links = find_links(soup, rules.follow, url) if rules.follow else ()
    for element in _select(soup, rules.remove):
        element.extract()  # a match inside an earlier match goes with it; extracting again is harmless
    if rules.select:
        roots = _roots(soup, rules.select)
        if not roots:
            quoted = ", ".join(repr(selector) for selector in rules.select)
            title = page_title(soup)
            suffix = f" (page title: {title!r})" if title else ""
            raise SuspiciousExtraction(f"select {quoted} matched nothing{suffix}")
    else:
        # The whole document, not soup.body: lxml puts text after a stray </html>
        # into a second tree that a browser would still show. <head> is dropped.
        roots = [soup]
    text, words = normalise_counting(render(roots), rules.ignore)
    return Extracted(text=text, kind="html", links=links, words=words)
