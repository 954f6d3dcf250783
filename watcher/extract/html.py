"""HTML → Markdown-like text: one block per line, headings as `#`, list items as `- `.

One libxml2 parse (lxml) gives the tree that `follow`, `remove` and `select`
work on (CSS through cssselect, watcher/css.py), that the fingerprint hashes
and that the renderer walks: a single pass (lxml's iterwalk, in C) that
collects inline text into a line buffer and flushes it at block boundaries.
BeautifulSoup parsed a 300 KB page in ~100 ms; this whole extraction takes
a few milliseconds. Only BeautifulSoup's encoding detection is kept.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.etree
from bs4.dammit import EncodingDetector

from watcher import escape
from watcher.css import compile_selectors
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
# Elements whose strings a <pre> and a link's text leave out.
_UNSPOKEN = frozenset({"rt", "rp", "style", "script"})

_URL_NOISE = re.compile(r"[\t\n\r]")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# WHATWG: these labels mean windows-1252 in practice (C1 bytes are curly quotes, dashes).
_LATIN1_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii"}
)
_UTF16 = frozenset({"utf-16", "utf-16le", "utf-16be", "utf16"})
_EVENTS = ("start", "end", "comment", "pi")


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


# ---------------------------------------------------------------- parsing

_HTML_END = re.compile(r"</html\s*>", re.IGNORECASE)
# libxml2 builds no deeper than this (even with huge_tree); a page nested deeper
# is built again, flattened below it. One child step per level costs O(n).
MAX_DEPTH = 2000
_TOO_DEEP = lxml.etree.XPath("boolean(" + "/*" * MAX_DEPTH + ")")


def parse(markup: str) -> Any:
    """The lxml tree of a decoded page; malformed markup is repaired, not refused.

    Where libxml2's tree would lose text a browser shows, the page is helped:
    what follows </html> is kept (the end tag is dropped, as a browser
    ignores it), and elements nested deeper than MAX_DEPTH are flattened into
    their ancestor at that depth, their text kept.
    """
    end = markup.find("</html>")
    if end < 0 or markup[end + 7 :].strip():  # not the common page that ends there
        markup = _HTML_END.sub("", markup)
    try:
        root = _feed(lxml.etree.HTMLParser(recover=True, huge_tree=True), markup)
        if root is not None and _TOO_DEEP(root):
            target = _Flattening()
            root = _feed(lxml.etree.HTMLParser(recover=True, huge_tree=True, target=target), markup)
    except (lxml.etree.LxmlError, ValueError, UnicodeError) as exc:
        raise ExtractionError(f"HTML could not be parsed: {' '.join(str(exc).split())}") from None
    return lxml.etree.Element("html") if root is None else root  # None: no element at all


def _feed(parser: Any, markup: str) -> Any:
    parser.feed(markup[1:] if markup[:1] == "\ufeff" else markup)
    return parser.close()


class _Flattening:
    """A parser target that builds the tree without the elements deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        self.builder = lxml.etree.TreeBuilder()
        self.depth = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        if self.depth <= MAX_DEPTH:
            self.builder.start(tag, attrib)

    def end(self, tag: str) -> None:
        if self.depth <= MAX_DEPTH:
            self.builder.end(tag)
        self.depth -= 1

    def data(self, data: str) -> None:
        self.builder.data(data)

    def close(self) -> Any:
        return self.builder.close()


# ---------------------------------------------------------------- selection


def _select(root: Any, selectors: tuple[str, ...]) -> list[Any]:
    """Elements matching any of the selectors, in document order, each once."""
    if not selectors:
        return []
    try:
        xpath = compile_selectors(selectors)
    except ValueError as exc:
        raise ExtractionError(str(exc)) from None
    found: list[Any] = xpath(root)
    return found


def _links(root: Any, selector: str, page_url: str) -> tuple[Link, ...]:
    """Links matched by a `follow` selector: absolute http(s) URLs without fragment,
    de-duplicated by URL in page order. A matched element without href contributes
    the <a href> and <area href> inside it."""
    base_url = page_url
    for base in root.iter("base"):
        if base.get("href") is not None:
            base_url = urljoin(page_url, base.get("href"))
            break
    links: dict[str, Link] = {}
    for element in _select(root, (selector,)):
        if element.get("href") is not None:
            anchors = [element]
        else:
            anchors = [a for a in element.iterdescendants("a", "area") if a.get("href") is not None]
        for anchor in anchors:
            # Browsers strip surrounding whitespace and drop tabs/newlines inside an href.
            href = _URL_NOISE.sub("", anchor.get("href").strip())
            if not href:
                continue
            url = urljoin(base_url, href).split("#", 1)[0]
            if not url[:8].lower().startswith(("http://", "https://")) or url in links:
                continue
            text = normalise_line(" ".join(_strings(anchor)))
            text = text or normalise_line(anchor.get("aria-label") or anchor.get("title") or "")
            links[url] = Link(url=url, text=text)
    return tuple(links.values())


_REMOVED = "watcher-removed"  # the tag `remove` gives an element before stripping it


@dataclass
class Prepared:
    """A page parsed, its `follow` links found, `remove` applied and `select`
    matched: what is left is to render `roots` (or to fingerprint them).
    `roots` is empty when `select` matched nothing (or `remove` took all)."""

    root: Any
    roots: list[Any]
    links: tuple[Link, ...]


def prepare(root: Any, *, url: str, rules: ExtractRules) -> Prepared:
    """Apply the rules to a parsed page (its tree is changed): `follow` sees the
    whole page, then `remove`, then `select`. <template> content is never part
    of the page. Raises ExtractionError for a selector that cannot be used."""
    lxml.etree.strip_elements(root, "template", with_tail=False)
    links = _links(root, rules.follow, url) if rules.follow else ()
    removed = _select(root, rules.remove)
    if removed and removed[0] is root:
        return Prepared(root=root, roots=[], links=links)
    if removed:
        # Stripped in C, which keeps each tail in place even where lxml's Python
        # API refuses the joined text (control characters in the page).
        for element in removed:
            element.tag = _REMOVED
        lxml.etree.strip_elements(root, _REMOVED, with_tail=False)
    if rules.select:
        matches = _select(root, rules.select)
        chosen = set(matches)
        roots = [m for m in matches if not any(p in chosen for p in m.iterancestors())]
    else:
        # The whole document: <head> is dropped as it is rendered.
        roots = [root]
    return Prepared(root=root, roots=roots, links=links)


def nothing_matched(prepared: Prepared, rules: ExtractRules) -> SuspiciousExtraction:
    """The error of a `select` that matched nothing, with the page's title."""
    quoted = ", ".join(repr(selector) for selector in rules.select)
    title = next(prepared.root.iter("title"), None)
    title_text = "" if title is None else normalise_line("".join(_strings(title)))
    suffix = f" (page title: {escape.quote(title_text)})" if title_text else ""
    return SuspiciousExtraction(f"select {quoted} matched nothing{suffix}")


# ---------------------------------------------------------------- rendering


def _hidden(element: Any) -> bool:
    get = element.get
    if get("hidden") is not None:
        return True
    if (get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = get("style")
    return bool(style) and _HIDDEN_STYLE.search(style) is not None


def _strings(element: Any) -> list[str]:
    """The element's text as a <pre> or a link shows it: without comments,
    processing instructions and the strings of rt, rp, style and script."""
    out: list[str] = [element.text] if element.text else []
    stack: list[Any] = list(reversed(element))
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        if node.tail:
            stack.append(node.tail)
        if not isinstance(node.tag, str) or node.tag in _UNSPOKEN:
            continue
        if node.text:
            out.append(node.text)
        stack.extend(reversed(node))
    return out


class _Renderer:
    """Collects lines; inline text accumulates in `buffer` until a block boundary."""

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

    def walk(self, top: Any, *, tail: bool = False) -> None:
        """Render an element and its content (and its tail when `tail`).

        lxml walks the tree in C (iterwalk): a subtree not entered is skipped
        whole, its "end" still comes, and comments come as events of their own.
        """
        buffer = self.buffer
        enter, leave = self.enter, self.leave
        skipped = None
        walker = lxml.etree.iterwalk(top, events=_EVENTS)
        for event, node in walker:
            if event == "start":
                if enter(node):
                    if node.text:
                        buffer.append(node.text)
                else:
                    walker.skip_subtree()
                    skipped = node
                continue
            if event == "end":
                if node is skipped:
                    skipped = None
                else:
                    leave(node)
                if node is top and not tail:
                    continue
            if node.tail:  # an element's after its end, a comment's or instruction's
                buffer.append(node.tail)

    def walk_content(self, element: Any) -> None:
        """Render an element's content (its text and children), not the element itself."""
        if element.text:
            self.buffer.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                self.walk(child, tail=True)
            elif child.tail:  # a comment or processing instruction: only its tail is text
                self.buffer.append(child.tail)

    def enter(self, element: Any) -> bool:
        """Start an element; True when its children are to be walked."""
        name = element.tag
        if name in DROPPED or _hidden(element):
            return False
        if name == "br":
            if self.inline_breaks:
                self.buffer.append(" ")
            else:
                self.flush()
            return False
        if name == "tr":
            self.emit_row(element)
            return False
        if name == "pre":
            self.flush()
            for line in "".join(_strings(element)).splitlines():
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

    def leave(self, element: Any) -> None:
        name = element.tag
        if name in HEADINGS:
            self.inline_breaks -= 1
        if name in HEADINGS or name == "li":
            self.flush()
            self.prefix = ""  # an empty heading or item leaves no dangling prefix
        elif name in BLOCKS:
            self.flush()

    def emit_row(self, row: Any) -> None:
        cells: list[list[str]] = []
        for cell in row:
            if cell.tag in CELLS and not _hidden(cell):
                sub = _Renderer()
                sub.walk_content(cell)
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


def render(prepared: Prepared, rules: ExtractRules) -> Extracted:
    """The extraction of a prepared page (whose `select`, if any, matched)."""
    renderer = _Renderer()
    try:
        for top in prepared.roots:
            renderer.walk(top)
            renderer.flush()
    except RecursionError:  # only tables nested in tables recurse
        raise ExtractionError("HTML nested too deeply to extract") from None
    text, words = normalise_counting("\n".join(renderer.lines), rules.ignore)
    return Extracted(text=text, kind="html", links=prepared.links, words=words)


# ---------------------------------------------------------------- extractor


def extract_html(
    content: bytes, *, charset: str | None, url: str, rules: ExtractRules
) -> Extracted:
    """Extract normalised text and followed links from an HTML document.

    `follow` sees the whole document; then `remove`, then `select`.
    Raises SuspiciousExtraction when `select` matches nothing.
    """
    markup = decode_markup(content, charset, is_html=True)
    prepared = prepare(parse(markup), url=url, rules=rules)
    if rules.select and not prepared.roots:
        raise nothing_matched(prepared, rules)
    return render(prepared, rules)
