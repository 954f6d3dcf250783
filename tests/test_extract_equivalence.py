"""The fast lxml extraction path gives exactly what the BeautifulSoup path gives.

Random documents from a rich grammar (inline and block nesting, tables,
lists, <br>, <pre>, hidden elements, scripts, comments, entities,
whitespace variants, links, unclosed and stray tags) with random
select/remove/follow rules: `extract_html` (fast path, or its fallback)
must equal `extract_html_soup` (always BeautifulSoup) in text and links,
or raise the same error.
"""

from __future__ import annotations

import lxml.etree
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from watcher.errors import ExtractionError
from watcher.extract import lxml_render
from watcher.extract.html import extract_html, extract_html_soup
from watcher.models import ExtractRules

URL = "https://lab.example/policies/rsp"

WORDS = st.sampled_from(
    ["policy", "model", "Risk", "café", "naïve", "x", "12", "über", "evals", "A.", "—", "“q”"]
)
SPACES = st.sampled_from([" ", "  ", "\n", "\t", "\r\n", "\u00a0", " \n ", "", "\u2003", "\x0c"])
ENTITIES = st.sampled_from(
    ["&amp;", "&lt;", "&gt;", "&nbsp;", "&#8212;", "&eacute;", "&copy", "&bogus;", "&#x41;", "&"]
)
INLINE = ["b", "i", "em", "strong", "span", "a", "code", "small", "sup", "abbr", "label", "q",
          "rt", "rp", "ruby", "font", "u", "s", "mark", "time"]  # fmt: skip
BLOCK = ["div", "p", "section", "article", "main", "nav", "header", "footer", "aside",
         "blockquote", "h1", "h2", "h3", "h6", "ul", "ol", "li", "dl", "dt", "dd", "figure",
         "figcaption", "details", "summary", "center", "address", "form", "fieldset", "hr"]  # fmt: skip
DROPPED = ["script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
           "button", "select", "textarea", "title", "img", "video", "head", "math"]  # fmt: skip
CLASSES = ["nav", "main", "content", "cookie-banner", "ad", "x"]
IDS = ["top", "main", "c1", "Main"]
HREFS = ["/a", "b.html", "https://other.example/p#frag", "#only", "mailto:x@y", " /sp ace ",
         "javascript:void(0)", "", "/a\n/b", "//cdn.example/x", "?q=1", "HTTP://UP.example/"]  # fmt: skip


@st.composite
def attributes(draw: st.DrawFn, tag: str) -> str:
    parts: list[str] = []
    if draw(st.booleans()):
        classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3))
        sep = draw(st.sampled_from([" ", "  ", "\t", " \n"]))
        parts.append(f'class="{sep.join(classes)}"')
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"id={draw(st.sampled_from(IDS))}")
    if tag in ("a", "area", "link", "div", "span") and draw(st.integers(0, 2)):
        parts.append(f'href="{draw(st.sampled_from(HREFS))}"')
    choice = draw(st.integers(0, 14))
    if choice == 0:
        parts.append("hidden")
    elif choice == 1:
        parts.append(f'aria-hidden="{draw(st.sampled_from(["true", "TRUE ", "false"]))}"')
    elif choice == 2:
        style = ["display:none", "DISPLAY : none", "visibility: hidden", "color:red"]
        parts.append(f'style="{draw(st.sampled_from(style))}"')
    elif choice == 3:
        parts.append(f'aria-label="{draw(WORDS)}"')
    elif choice == 4:
        parts.append(f"title='{draw(WORDS)} {draw(WORDS)}'")
    return (" " + " ".join(parts)) if parts else ""


def text_strategy() -> st.SearchStrategy[str]:
    return st.lists(st.one_of(WORDS, SPACES, ENTITIES), min_size=1, max_size=5).map("".join)


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        kind = draw(st.integers(0, 12))
        inner = "".join(draw(st.lists(children, max_size=4)))
        if kind <= 3:
            tag = draw(st.sampled_from(INLINE))
        elif kind <= 7:
            tag = draw(st.sampled_from(BLOCK))
        elif kind == 8:
            tag = draw(st.sampled_from(DROPPED))
        elif kind == 9:
            cells = draw(st.lists(st.tuples(st.sampled_from(["td", "th"]), children), max_size=3))
            rows = draw(st.integers(0, 3))
            body = "".join(
                "<tr>" + "".join(f"<{c}>{x}</{c}>" for c, x in cells) + "</tr>" for _ in range(rows)
            )
            return f"<table{draw(attributes('table'))}>{body}{inner}</table>"
        elif kind == 10:
            return f"<pre>{draw(st.sampled_from(['', chr(10)]))}{inner}\n  {draw(WORDS)} \n</pre>"
        elif kind == 11:
            return draw(
                st.sampled_from(["<br>", "<br/>", "</br>", "<wbr>", "<!-- c -->", "<!--x--y-->",
                                 "<?php x ?>", "<![CDATA[cd]]>", "</p>", "</div>", "</body>",
                                 "<p>", "<li>", "<td>x", "<tr>", "<html>", "<body>"])
            )  # fmt: skip
        else:
            tag = "script"
            return f"<script>var s = '<p>{draw(WORDS)}</p>';</script>"
        close = draw(st.integers(0, 6)) != 0  # sometimes left unclosed
        attrs = draw(attributes(tag))
        name = tag.upper() if draw(st.integers(0, 9)) == 0 else tag  # tag names are case-blind
        return f"<{name}{attrs}>{inner}" + (f"</{tag}>" if close else "")

    return build()


FRAGMENT = st.recursive(text_strategy(), lambda inner: element(inner), max_leaves=40)


@st.composite
def documents(draw: st.DrawFn) -> str:
    body = "".join(draw(st.lists(FRAGMENT, min_size=1, max_size=6)))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return body
    head = (
        "<head><title>T &amp; t</title><base href='/base/'></head>" if draw(st.booleans()) else ""
    )
    doctype = draw(st.sampled_from(["<!DOCTYPE html>", "", "<?xml version='1.0'?>"]))
    end = draw(st.sampled_from(["</body></html>", "", "</html>\n", "</html>trailing"]))
    return f"{doctype}<html>{head}<body>{body}{end}"


SELECTORS = st.sampled_from(
    ["main", "article", ".content", "#main", "div.nav", "nav a", "section > p", "p + p",
     "h1 ~ p", "div:not(.ad)", "li:first-child", "li:last-child", "[href]", "a[href^='/']",
     "[class~=nav]", "a[title]", "*", "table td", "p, li", ".cookie-banner", "span.x",
     "main:-soup-contains('x')", "p:nth-child(2)", "[type=x]", "rt"]
)  # fmt: skip


@st.composite
def rules(draw: st.DrawFn) -> ExtractRules:
    return ExtractRules(
        select=tuple(draw(st.lists(SELECTORS, max_size=2))),
        remove=tuple(draw(st.lists(SELECTORS, max_size=2))),
        follow=draw(st.one_of(st.none(), SELECTORS)),
    )


def outcome(function: object, content: bytes, extract_rules: ExtractRules) -> object:
    try:
        result = function(content, charset="utf-8", url=URL, rules=extract_rules)  # type: ignore[operator]
    except ExtractionError as exc:  # SuspiciousExtraction included
        return (type(exc).__name__, str(exc))
    return (result.text, result.links, result.kind)


# The bs4 path warns about an <?xml?> prolog; it is the reference, warnings and all.
XML_WARNING = pytest.mark.filterwarnings("ignore::bs4.XMLParsedAsHTMLWarning")


@XML_WARNING
def _tree(text: str, chunk: int) -> bytes | None:
    parser = lxml.etree.HTMLParser(recover=True, huge_tree=True)
    for start in range(0, max(len(text), 1), chunk):
        parser.feed(text[start : start + chunk])
    root = parser.close()
    return None if root is None else lxml.etree.tostring(root)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(1, 600))
def test_libxml2_builds_the_same_tree_however_the_text_is_cut(document: str, chunk: int) -> None:
    """BeautifulSoup feeds 512 characters at a time, the fast path the whole text."""
    padded = document.replace("<body>", "<body>" + "<p>filler words</p>" * 40, 1)
    for text in (document, padded):
        assert _tree(text, 512) == _tree(text, len(text) + 1)
        assert _tree(text, chunk) == _tree(text, len(text) + 1)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), rules())
# BeautifulSoup warned about an XML prolog on an HTML page (warnings are errors here)
@example(document="<?xml version='1.0'?><html><body>policy", extract_rules=ExtractRules())
def test_fast_path_equals_soup_path(document: str, extract_rules: ExtractRules) -> None:
    content = document.encode()
    assert outcome(extract_html, content, extract_rules) == outcome(
        extract_html_soup, content, extract_rules
    )


@pytest.mark.slow
@XML_WARNING
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_fast_path_renders_what_soup_renders(document: str) -> None:
    """Without rules nothing routes to bs4 except the document's own shape: the
    renderer itself is compared here, not only the fallback."""
    content = document.encode()
    fast = lxml_render.extract_fast(document, url=URL, rules=ExtractRules(follow="a, [href]"))
    soup = extract_html_soup(
        content, charset="utf-8", url=URL, rules=ExtractRules(follow="a, [href]")
    )
    if fast is not None:
        assert (fast.text, fast.links) == (soup.text, soup.links)


@pytest.mark.parametrize(
    ("document", "rules_", "fast"),
    [
        ("<html><body><p>a</p></body></html>", ExtractRules(), True),
        ("<html><body><p>a</p></body></html><p>after</p>", ExtractRules(), False),
        ("<p>a</p>", ExtractRules(select=("main:-soup-contains('a')",)), False),
        ("<p>a</p>", ExtractRules(select=("p",)), True),
        ("<p>a</p>", ExtractRules(select=("main",)), False),  # bs4 words the error
        ("<p class='a\u00a0b'>a</p>", ExtractRules(remove=(".a",)), False),
        ("<div>" * 2100 + "deep" + "</div>" * 2100, ExtractRules(), False),
        ("<p>a</p>", ExtractRules(remove=("[class=x]",)), False),
    ],
)
def test_what_takes_the_fast_path(document: str, rules_: ExtractRules, fast: bool) -> None:
    assert (lxml_render.extract_fast(document, url=URL, rules=rules_) is not None) is fast
