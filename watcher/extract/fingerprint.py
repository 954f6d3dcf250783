"""A quick fingerprint of what an HTML page could turn into text.

Dynamic pages answer every request with new bytes (a token in a script, a
time in the footer) while their text stays the same, so the raw-bytes check
cannot skip their extraction. The fingerprint hashes the page's tree after
`follow`, `remove` and `select` (extract/html.py `prepare`), without what
can never become text (scripts, styles, comments, the attributes rendering
ignores), plus the links found. Everything rendering turns into text is in
what is hashed, so an equal fingerprint means an equal text; a different
one only means "render and see".
"""

from __future__ import annotations

import hashlib

import lxml.etree

from watcher.extract.html import Prepared
from watcher.models import ExtractRules

# Elements whose content never becomes text, anywhere: rendering drops them,
# and inside a <pre> (whose strings are taken whole) they are left out too.
# Other dropped elements (noscript, svg…) do give text inside a <pre>, so
# they stay in what is hashed.
_DROPPED = ("script", "style")
# Attributes that decide whether an element's text is shown.
_KEPT_ATTRIBUTES = frozenset({"hidden", "style", "aria-hidden", "type", "value"})
_ALL_ATTRIBUTES = lxml.etree.XPath("descendant-or-self::*/@*")


def roots_fingerprint(prepared: Prepared, charset: str | None, rules: ExtractRules) -> str:
    """The fingerprint of a prepared page (parsed, `remove`d, `select`ed).

    Hashes the links found and the selected elements without what can never
    become text, then strips that from the tree: rendering the roots
    afterwards gives the same text (a property test holds it to that).
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
