"""The fast HTML extraction path: the same text and links as the BeautifulSoup
path in extract/html.py, from a plain lxml tree that never leaves C to be built.

BeautifulSoup with its lxml builder receives the very events libxml2's push
parser produces, so the tree built here from the same decoded text (whole,
where BeautifulSoup feeds 512 characters at a time: libxml2 cuts no
differently) has the same structure. What differs is the model:
lxml keeps text in `.text` and `.tail` instead of string nodes, and this
module renders that model with exactly the rules of `_Renderer`.

Whenever this path cannot promise the same output, `extract_fast` returns
None and the caller uses the BeautifulSoup path: content after `</html>`
(BeautifulSoup keeps it, libxml2's tree drops it), a selector outside the
plain subset that cssselect and soupsieve agree on, a class attribute with
whitespace only Python splits on, a link element whose own strings are of a
special kind (rt, script…), a `select` that matched nothing (the error
message needs the BeautifulSoup page title), a `remove` that matches the
root, nesting deeper than 2,000 levels, text lxml will not hold after a
removal (control characters), or any parser trouble. Like soupsieve,
selectors never match inside a <template>.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import cssselect
import lxml.etree

from watcher.css import is_plain_selector
from watcher.extract.html import _HIDDEN_STYLE as HIDDEN_STYLE
from watcher.extract.html import BLOCKS, CELLS, DROPPED, HEADINGS, LineBuffer
from watcher.extract.normalise import normalise_counting, normalise_line
from watcher.models import Extracted, ExtractRules, Link

# Tags whose strings BeautifulSoup stores as special string classes, which
# get_text() leaves out (bs4 HTMLTreeBuilder.DEFAULT_STRING_CONTAINERS).
_STRING_CONTAINERS = frozenset({"rt", "rp", "style", "script", "template"})
_EVENTS = ("start", "end", "comment", "pi")
_URL_NOISE = re.compile(r"[\t\n\r]")
_HTML_END = re.compile(r"</html", re.IGNORECASE)

# bs4 splits these into lists, soupsieve compares them re-joined by one space
# (and compares `type` case-blind): attribute selectors on them go to soupsieve.
_LIST_ATTRIBUTE = re.compile(
    r"\[\s*(?:class|rel|rev|headers|accept-charset|archive|accesskey|dropzone|type)\b",
    re.IGNORECASE,
)
# Whitespace str.split() knows and XPath's normalize-space() does not.
_ODD_SPACE = "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_ODD_SPACE_RE = re.compile(f"[{_ODD_SPACE}]")
_CLASSES = lxml.etree.XPath("//@class", smart_strings=False)
# libxml2's tree stops at 2048 levels even with huge_tree (bs4's events do not):
# a document that deep takes the bs4 path. One child step per level costs O(n).
_TOO_DEEP = lxml.etree.XPath("boolean(" + "/*" * 2000 + ")")

_translator = cssselect.HTMLTranslator()
XPathFn = Callable[[Any], Any]


@functools.lru_cache(maxsize=512)
def _xpath(selectors: tuple[str, ...]) -> XPathFn | None:
    """One compiled XPath matching any of the selectors (in document order, each
    node once), or None when they are not all in the subset both engines agree on."""
    for selector in selectors:
        if not is_plain_selector(selector) or _LIST_ATTRIBUTE.search(selector):
            return None
    try:
        return lxml.etree.XPath(_translator.css_to_xpath(", ".join(selectors)))
    except (cssselect.SelectorError, lxml.etree.XPathSyntaxError, ValueError, TypeError):
        return None


def _uses_class(selectors: Iterable[str]) -> bool:
    return any("." in selector for selector in selectors)


def parse_fast(text: str) -> Any | None:
    """The lxml tree of a decoded document, or None when it would differ from
    BeautifulSoup's (content after </html>) or cannot be built."""
    ends = [match.end() for match in _HTML_END.finditer(text)]
    if ends:
        close = text.find(">", ends[-1])
        if close < 0 or text[close + 1 :].strip():
            return None
    if len(text) > 10_000_000:
        return None  # libxml2 limits without huge_tree (bs4) differ from ours
    if text[:1] == "\ufeff":
        text = text[1:]  # as bs4 does
    parser = lxml.etree.HTMLParser(recover=True, huge_tree=True)
    try:
        # BeautifulSoup's lxml builder feeds the parser 512 characters at a
        # time; libxml2 builds the same tree however the text is cut (26,000
        # random documents compared; tests/test_extract_equivalence.py holds
        # it), so the text goes in whole: 0.5 ms for a 250 KB page, not 0.9 ms.
        parser.feed(text)
        root = parser.close()
    except (lxml.etree.LxmlError, ValueError, UnicodeError):
        return None
    if root is None or _TOO_DEEP(root):
        return None
    return root


def _hidden(element: Any) -> bool:
    get = element.get
    if get("hidden") is not None:
        return True
    if (get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = get("style")
    return bool(style) and HIDDEN_STYLE.search(style) is not None


def _in_container(element: Any) -> bool:
    """True when element or an ancestor makes its strings special to bs4."""
    if element.tag in _STRING_CONTAINERS:
        return True
    return any(parent.tag in _STRING_CONTAINERS for parent in element.iterancestors())


def plain_strings(element: Any) -> list[str]:
    """The strings bs4's get_text() yields for an element that is not itself a
    string container: text outside comments and outside rt/rp/style/script/template."""
    if _in_container(element):
        return []
    out: list[str] = []
    if element.text:
        out.append(element.text)
    # (node, the node's parent content is plain)
    stack: list[Any] = list(reversed(element))
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        tail = node.tail
        if tail:
            stack.append(tail)
        tag = node.tag
        if not isinstance(tag, str) or tag in _STRING_CONTAINERS:
            continue  # comment / PI text, or special strings all the way down
        if node.text:
            out.append(node.text)
        stack.extend(reversed(node))
    return out


class FastRenderer(LineBuffer):
    """`_Renderer` of extract/html.py over lxml's text/tail model."""

    def walk_content(self, element: Any) -> None:
        """Render an element's content (its text and children), not the element itself."""
        if element.text:
            self.buffer.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                self._walk(child, tail=True)
            elif child.tail:  # a comment or processing instruction: only its tail is text
                self.buffer.append(child.tail)

    def walk(self, element: Any) -> None:
        """Render an element and its content, without its tail."""
        self._walk(element, tail=False)

    def _walk(self, top: Any, *, tail: bool) -> None:
        # lxml walks the tree in C (iterwalk); a subtree not entered is skipped
        # whole, its "end" still comes, and comments come as events of their own.
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

    def enter(self, element: Any) -> bool:
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
            for line in "".join(plain_strings(element)).splitlines():
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
            self.prefix = ""
        elif name in BLOCKS:
            self.flush()

    def emit_row(self, row: Any) -> None:
        cells: list[list[str]] = []
        for cell in row:
            if cell.tag in CELLS and not _hidden(cell):
                sub = FastRenderer()
                sub.walk_content(cell)
                sub.flush()
                if sub.lines:
                    cells.append(sub.lines)
        self.flush()
        if len(cells) == 1:
            for line in cells[0]:
                self.emit(line)
        elif cells:
            self.emit(" | ".join(" ".join(lines) for lines in cells))


def _select(root: Any, selectors: tuple[str, ...], templated: bool) -> list[Any]:
    """Matches in document order; like soupsieve, never inside a <template>."""
    xpath = _xpath(selectors)
    assert xpath is not None  # checked by extract_fast before parsing
    found: list[Any] = xpath(root)
    if templated:
        found = [node for node in found if next(node.iterancestors("template"), None) is None]
    return found


def _inside_template(node: Any, top: Any) -> bool:
    """True when a <template> strictly between top and node hides node from soupsieve."""
    for parent in node.iterancestors():
        if parent is top:
            return False
        if parent.tag == "template":
            return True
    return False


def _links(root: Any, selector: str, page_url: str, templated: bool) -> tuple[Link, ...] | None:
    base_url = page_url
    for base in root.iter("base"):
        if base.get("href") is not None:
            base_url = urljoin(page_url, base.get("href"))
            break
    links: dict[str, Link] = {}
    for element in _select(root, (selector,), templated):
        if element.get("href") is not None:
            anchors = [element]
        else:
            anchors = [
                node
                for node in element.iterdescendants("a", "area")
                if node.get("href") is not None
                and not (templated and _inside_template(node, element))
            ]
        for anchor in anchors:
            if anchor.tag in _STRING_CONTAINERS:
                return None  # its get_text() keeps other strings than usual
            href = _URL_NOISE.sub("", anchor.get("href").strip())
            if not href:
                continue
            url = urljoin(base_url, href).split("#", 1)[0]
            if not url[:8].lower().startswith(("http://", "https://")) or url in links:
                continue
            text = normalise_line(" ".join(plain_strings(anchor)))
            text = text or normalise_line(anchor.get("aria-label") or anchor.get("title") or "")
            links[url] = Link(url=url, text=text)
    return tuple(links.values())


def _drop(element: Any) -> None:
    """Remove an element, keeping its tail in place (bs4's extract()).

    Raises ValueError when lxml refuses the joined text (control characters)."""
    parent = element.getparent()
    if parent is None:
        return  # the root: extract_fast leaves that case to bs4
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


@dataclass
class Prepared:
    """A page parsed, its `follow` links found, `remove` applied and `select`
    matched: what is left is to render `roots` (or to fingerprint them)."""

    root: Any
    roots: list[Any]
    links: tuple[Link, ...]


def can_prepare(rules: ExtractRules) -> bool:
    """False when the rules hold a selector only soupsieve reads right."""
    for group in ((rules.follow,) if rules.follow else (), rules.remove, rules.select):
        if group and _xpath(tuple(group)) is None:
            return False
    return True


def prepare(
    text: str, *, url: str, rules: ExtractRules, root: Any | None = None
) -> Prepared | None:
    """Everything of the fast path but rendering, or None when only the
    BeautifulSoup path can promise the right answer. `root` is the page as
    `parse_fast` built it, when the caller has it already; it is changed."""
    if not can_prepare(rules):
        return None
    if root is None:
        root = parse_fast(text)
        if root is None:
            return None
    selectors = (*((rules.follow,) if rules.follow else ()), *rules.remove, *rules.select)
    if _uses_class(selectors) and _ODD_SPACE_RE.search("\n".join(_CLASSES(root))):
        return None
    templated = next(root.iter("template"), None) is not None
    links: tuple[Link, ...] = ()
    if rules.follow:
        found = _links(root, rules.follow, url, templated)
        if found is None:
            return None
        links = found
    if rules.remove:
        removed = _select(root, tuple(rules.remove), templated)
        if removed and removed[0] is root:
            return None  # bs4 is left with an empty document
        try:
            for element in removed:
                _drop(element)
        except ValueError:
            return None
    if rules.select:
        matches = _select(root, tuple(rules.select), templated)
        if not matches:
            return None  # the bs4 path words the error, with the page title
        chosen = set(matches)
        roots = [m for m in matches if not any(p in chosen for p in m.iterancestors())]
    else:
        roots = [root]
    return Prepared(root=root, roots=roots, links=links)


def render(prepared: Prepared, rules: ExtractRules) -> Extracted:
    """The extraction of a prepared page."""
    renderer = FastRenderer()
    for top in prepared.roots:
        renderer.walk(top)
        renderer.flush()
    text, words = normalise_counting("\n".join(renderer.lines), rules.ignore)
    return Extracted(text=text, kind="html", links=prepared.links, words=words)


def extract_fast(text: str, *, url: str, rules: ExtractRules) -> Extracted | None:
    """The extraction of a decoded HTML document, or None when only the
    BeautifulSoup path can promise the right answer."""
    prepared = prepare(text, url=url, rules=rules)
    return None if prepared is None else render(prepared, rules)
