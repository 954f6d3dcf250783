"""CSS selectors: cssselect translates them to XPath, lxml runs them.

One engine for validation and extraction alike. Every selector cssselect
translates is supported: types, `#id`, `.class`, attributes with every
operator and the `i` flag, all combinators, selector lists, `:not()`,
`:is()`, `:where()`, `:has()`, the `:nth-*` and `:*-of-type` families,
`:contains()` (soupsieve's `:-soup-contains()` is read as it). What it
cannot translate is refused with a message naming the part that is not
supported, at config load rather than at the first check.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import cssselect
import lxml.etree

__all__ = ["compile_selectors", "selector_problem"]


class _Translator(cssselect.HTMLTranslator):
    def xpath__soup_contains_function(self, xpath: Any, function: Any) -> Any:
        """soupsieve's name for `:contains()`, which users of BeautifulSoup write."""
        return self.xpath_contains_function(xpath, function)


_TRANSLATOR = _Translator()
_UNKNOWN_PSEUDO = re.compile(r"^The pseudo-class (:[\w-]+(?:\(\))?) is unknown$")
_TOKEN = re.compile(r"<(?:EOF|\w+ '(.*?)') at (\d+)>")
_NTH_OF = re.compile(r":nth-(?:last-)?child\([^)]*\bof\b", re.IGNORECASE)


def _wording(message: str) -> str:
    """cssselect's token notation in words: <DELIM '>' at 5> → '>' at position 5."""

    def word(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "the end"
        return f"{match.group(1)!r} at position {match.group(2)}"

    message = _TOKEN.sub(word, message).rstrip(".")
    return message[:1].lower() + message[1:]


def selector_problem(selector: str) -> str | None:
    """Why `selector` cannot be used, in one line that quotes it; None when it can."""
    try:
        compile_selectors((selector,))
    except ValueError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1024)
def compile_selectors(selectors: tuple[str, ...]) -> Any:
    """One compiled XPath matching any of `selectors`, in document order, each
    element once. Raises ValueError naming the selector that cannot be used."""
    for selector in selectors:
        try:
            _TRANSLATOR.css_to_xpath(selector)
        except cssselect.SelectorSyntaxError as exc:
            if _NTH_OF.search(selector):
                raise ValueError(f"{selector!r}: ':nth-child(… of …)' is not supported") from None
            raise ValueError(
                f"{selector!r} is not a valid CSS selector: {_wording(str(exc))}"
            ) from None
        except cssselect.ExpressionError as exc:
            if match := _UNKNOWN_PSEUDO.match(str(exc)):
                raise ValueError(f"{selector!r}: {match.group(1)!r} is not supported") from None
            raise ValueError(f"{selector!r} is not supported: {_wording(str(exc))}") from None
    try:
        # lxml refuses an expression holding a control character (an escape
        # such as `\1` in the selector); a namespace prefix fails only when run
        xpath = lxml.etree.XPath(_TRANSLATOR.css_to_xpath(", ".join(selectors)))
        xpath(lxml.etree.Element("html"))
    except (lxml.etree.XPathError, ValueError) as exc:
        raise ValueError(
            f"{', '.join(selectors)!r} is not supported: {_wording(str(exc))}"
        ) from None
    return xpath
