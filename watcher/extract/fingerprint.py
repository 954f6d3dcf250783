"""A quick fingerprint of what an HTML page could turn into text.

Dynamic pages answer every request with new bytes (a token in a script, a
time in the footer) while their text stays the same, so the raw-bytes check
cannot skip their extraction, and a BeautifulSoup parse of a 300 KB page
costs ~100 ms. This fingerprint is computed with plain lxml, ~20× faster: it
applies the same `remove` and `select` rules (CSS translated to XPath by
cssselect), drops what extraction drops (scripts, styles, comments…), strips
the attributes extraction ignores, and hashes the rest, plus the links the
`follow` rule matches. Everything extraction turns into text is inside what
is hashed, so an equal fingerprint means an equal text; a different one
only means "extract and see". When lxml cannot do what soupsieve does (a
selector cssselect does not know), there is no fingerprint and the page is
always extracted.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any

import cssselect
import lxml.etree
import lxml.html

from watcher.extract.lxml_render import Prepared
from watcher.models import ExtractRules

log = logging.getLogger(__name__)

# Elements whose content never becomes text, anywhere: extraction drops them,
# and inside a <pre> (whose strings are taken whole) they are the string
# containers BeautifulSoup leaves out. Other dropped elements (noscript, svg…)
# do give text inside a <pre>, so they stay in what is hashed.
_DROPPED = ("script", "style", "template")
# Attributes that decide whether an element's text is shown.
_KEPT_ATTRIBUTES = frozenset({"hidden", "style", "aria-hidden", "type", "value"})

_translator = cssselect.HTMLTranslator()


@functools.lru_cache(maxsize=512)
def _xpath(selector: str) -> Callable[[Any], list[Any]] | None:
    """A compiled XPath for a CSS selector, or None when cssselect cannot translate it."""
    try:
        return lxml.etree.XPath(_translator.css_to_xpath(selector))
    except (cssselect.SelectorError, lxml.etree.XPathSyntaxError, ValueError, TypeError):
        return None


def _matches(root: Any, selectors: tuple[str, ...]) -> list[Any] | None:
    found: list[Any] = []
    for selector in selectors:
        # a selector list "a, b" is one selector to cssselect as to soupsieve
        xpath = _xpath(selector)
        if xpath is None:
            return None
        found.extend(xpath(root))
    return found


def html_fingerprint(content: bytes, charset: str | None, rules: ExtractRules) -> str | None:
    """The fingerprint of an HTML page under `rules`, or None when it cannot be made."""
    if b"\x00" in content[:1024]:
        return None  # UTF-16 or binary: leave it to extraction
    if content[content.lower().rfind(b"</html>") + 7 :].strip() and b"</html>" in content.lower():
        # libxml2's tree drops what follows </html>, BeautifulSoup keeps it
        return None
    try:
        # latin-1 maps bytes to characters one to one: whatever the real charset,
        # different bytes stay different, and libxml2 never stops on a bad sequence
        root = lxml.html.document_fromstring(content.decode("latin-1"))
    except (lxml.etree.LxmlError, ValueError):
        return None
    digest = hashlib.sha256()
    digest.update(repr((charset, rules.select, rules.remove, rules.ignore, rules.follow)).encode())
    if rules.follow:
        links = _matches(root, (rules.follow,))
        if links is None:
            return None
        for link in links:
            digest.update(b"\x00L" + str(link.get("href", "")).encode("utf-8", "replace"))
            for inner in link.iter("a"):
                digest.update(b"\x00l" + str(inner.get("href", "")).encode("utf-8", "replace"))
    removed = _matches(root, rules.remove)
    if removed is None:
        return None
    for element in removed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the tail text, as BeautifulSoup's decompose does
    if rules.select:
        roots = _matches(root, rules.select)
        if not roots:
            return None  # let extraction say what matched nothing
    else:
        roots = [root]
    for top in roots:
        lxml.etree.strip_elements(top, *_DROPPED, lxml.etree.Comment, with_tail=False)
        for element in top.iter():
            if not isinstance(element.tag, str):
                continue
            for name in [n for n in element.attrib if n not in _KEPT_ATTRIBUTES]:
                del element.attrib[name]
        digest.update(b"\x00R" + lxml.etree.tostring(top, method="html", with_tail=False))
    return digest.hexdigest()


_ALL_ATTRIBUTES = lxml.etree.XPath("descendant-or-self::*/@*")


def roots_fingerprint(prepared: Prepared, charset: str | None, rules: ExtractRules) -> str:
    """The fingerprint of a page the fast path prepared (parsed, `remove`d, `select`ed).

    Hashes the links found and the selected elements without what can never
    become text, then strips that from the tree: rendering the roots
    afterwards gives the same text (a property test holds it to that).
    Another kind of fingerprint than `html_fingerprint`'s; the two never
    compare equal, so a page that changes path is just extracted once.
    """
    digest = hashlib.sha256(b"roots\x00")
    digest.update(repr((charset, rules.select, rules.remove, rules.ignore, rules.follow)).encode())
    for link in prepared.links:
        digest.update(b"\x00L" + link.url.encode("utf-8", "replace"))
        digest.update(b"\x00l" + link.text.encode("utf-8", "replace"))
    for top in prepared.roots:
        lxml.etree.strip_elements(top, *_DROPPED, lxml.etree.Comment, with_tail=False)
        names = {attribute.attrname for attribute in _ALL_ATTRIBUTES(top)} - _KEPT_ATTRIBUTES
        if names:
            lxml.etree.strip_attributes(top, *names)
        digest.update(b"\x00R" + lxml.etree.tostring(top, method="html", with_tail=False))
    return digest.hexdigest()
