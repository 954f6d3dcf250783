"""The plain subset of CSS selectors: a grammar, no parser library.

Type, #id, .class, [attr] and [attr op "value"], combinators, :first-child,
:last-child and :not() of those. soupsieve (BeautifulSoup's engine) and
cssselect (lxml's) read these the same way, so the fast extraction path
takes them (extract/lxml_render.py); and they are valid CSS by
construction, so config validation needs no soupsieve to accept them.
"""

from __future__ import annotations

import re

__all__ = ["is_plain_selector"]

_IDENT = r"-?[A-Za-z_][A-Za-z0-9_-]*"
_VALUE = r"(?:\"[^\"\\\n]*\"|'[^'\\\n]*'|" + _IDENT + ")"
_ATTR = r"\[\s*" + _IDENT + r"\s*(?:[~^$*|]?=\s*" + _VALUE + r"\s*)?\]"
_SIMPLE = (
    r"(?:(?:" + _IDENT + r"|\*)(?:#" + _IDENT + r"|\." + _IDENT + "|" + _ATTR
    + r"|:first-child|:last-child)*|(?:#" + _IDENT + r"|\." + _IDENT + "|" + _ATTR
    + r"|:first-child|:last-child)+)"
)  # fmt: skip
_COMPOUND = _SIMPLE + r"(?::not\(\s*" + _SIMPLE + r"\s*\))*"
_SAFE_SELECTOR = re.compile(
    r"\s*" + _COMPOUND + r"(?:\s*[>+~]\s*" + _COMPOUND + r"|\s+" + _COMPOUND + r")*"
    r"(?:\s*,\s*" + _COMPOUND + r"(?:\s*[>+~]\s*" + _COMPOUND + r"|\s+" + _COMPOUND + r")*)*\s*"
)  # fmt: skip


def is_plain_selector(selector: str) -> bool:
    """True when `selector` (a selector list too) is in the plain subset."""
    return _SAFE_SELECTOR.fullmatch(selector) is not None
