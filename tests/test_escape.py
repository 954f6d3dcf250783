"""Escaping scraped text for each target: properties over any string, and the notation."""

from __future__ import annotations

import html
import io
import json
import logging
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher import escape
from watcher.logs import JsonFormatter, TextFormatter

# Written out here, not taken from the module: the test says what is dangerous.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SEPARATORS = "\u2028\u2029"
C0 = "".join(map(chr, range(0x20)))
C1 = "".join(map(chr, range(0x80, 0xA0)))
EVERY_DANGER = C0 + "\x7f" + C1 + BIDI + SEPARATORS
DANGER_BUT_TAB_NEWLINE = re.compile(
    "[" + re.escape(EVERY_DANGER.replace("\t", "").replace("\n", "")) + "]"
)
ANY_DANGER = re.compile("[" + re.escape(EVERY_DANGER) + "]")

# Text that leans on the dangerous characters and on markup, not only on random code points.
hostile = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(EVERY_DANGER + "<>&\"'`|*_~\\ab \u05d0\u0627")),
        st.characters(),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(hostile)
def test_terminal_output_holds_no_control_or_bidi_character(text: str) -> None:
    out = escape.terminal(text)
    assert not DANGER_BUT_TAB_NEWLINE.search(out), repr(out)
    assert out.count("\n") == text.count("\n") and out.count("\t") == text.count("\t")


@settings(max_examples=300, deadline=None)
@given(hostile)
def test_slack_output_has_no_markup_outside_entities(text: str) -> None:
    out = escape.slack(text)
    assert "<" not in out and ">" not in out
    assert not re.search(r"&(?!amp;|lt;|gt;)", out), out
    assert not DANGER_BUT_TAB_NEWLINE.search(out)
    # only the three entities were added: undoing them gives the visible text back
    assert out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == (
        escape.visible(text)
    )


@settings(max_examples=300, deadline=None)
@given(hostile)
def test_html_output_is_text_only_and_round_trips(text: str) -> None:
    out = escape.html(text)
    assert not re.search(r"[<>\"']", out)
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", out), out
    assert not DANGER_BUT_TAB_NEWLINE.search(out)
    assert html.unescape(out) == escape.visible(text)


@settings(max_examples=300, deadline=None)
@given(hostile, st.integers(min_value=1, max_value=300))
def test_header_is_one_bounded_line(text: str, limit: int) -> None:
    out = escape.header(text, limit)
    assert "\r" not in out and "\n" not in out
    assert not ANY_DANGER.search(out)
    assert len(out) <= limit
    assert out == out.strip() and "  " not in out


@settings(max_examples=300, deadline=None)
@given(hostile)
def test_log_output_is_one_line_and_loses_nothing(text: str) -> None:
    out = escape.log(text)
    assert not ANY_DANGER.search(out)
    assert out.splitlines() in ([out], [])
    # every character is kept or spelled out: reading the escapes back gives the text
    assert _unshow(out) == text or "\\x" in text or "\\u" in text


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_xml_output_is_always_well_formed(text: str) -> None:
    element = ET.Element("title")
    element.text = escape.xml(text)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))
    assert parsed.text in (escape.xml(text), None)
    assert not DANGER_BUT_TAB_NEWLINE.search(parsed.text or "")


def _unshow(text: str) -> str:
    return re.sub(
        r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1) or m.group(2), 16)), text
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x9b31m", "\\x9b31m"),
        ("\x7f", "\\x7f"),
        ("a\rb", "a\\x0db"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
        ("mark\u200f\u200e\u061c", "mark\\u200f\\u200e\\u061c"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("plain ascii, é, \u05d0\u05d1 and \u0627", "plain ascii, é, \u05d0\u05d1 and \u0627"),
    ],
)
def test_terminal_notation(text: str, shown: str) -> None:
    assert escape.terminal(text) == shown


def test_every_target_shows_a_right_to_left_override() -> None:
    text = "Policy \u202eevil"
    assert escape.terminal(text) == "Policy \\u202eevil"
    assert escape.html(text) == "Policy \\u202eevil"
    assert escape.slack(text) == "Policy \\u202eevil"
    assert escape.header(text) == "Policy \\u202eevil"
    assert escape.log(text) == "Policy \\u202eevil"
    assert escape.xml(text) == "Policy \\u202eevil"
    assert escape.visible(None) == ""


def test_one_line_folds_breaks_and_clips() -> None:
    assert escape.one_line("a\r\n\tb\u2028c\x85d  e") == "a b c d e"
    assert escape.one_line("x" * 10, 5) == "xxxx…"
    assert escape.header("Subject\r\nBcc: victim@example.com") == "Subject Bcc: victim@example.com"


def test_slack_markup_arrives_as_text() -> None:
    assert escape.slack("<!channel> & <https://evil|click>") == (
        "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
    )


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("watcher.pipeline", logging.WARNING, __file__, 1, message, args, None)


def test_text_log_lines_cannot_be_forged_or_reordered() -> None:
    scraped = "timeout\n2026-01-01 00:00:00 INFO watcher: all good\x1b[2J \u202eevil"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter("%(levelname)s %(message)s"))
    handler.handle(_record("source %s failed: %s", "acme", scraped))
    line = stream.getvalue()
    assert line.count("\n") == 1 and "\x1b" not in line and "\u202e" not in line
    assert line == (
        "WARNING source acme failed: timeout\\x0a2026-01-01 00:00:00 INFO watcher: "
        "all good\\x1b[2J \\u202eevil\n"
    )


def test_json_log_escapes_message_and_extra_fields() -> None:
    record = _record("title %s", "a\u202eb\u2028c")
    record.source = "x\x9by"
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "title a\\u202eb\\u2028c"
    assert data["source"] == "x\\x9by"


TITLE = "C:\\Policies\\v2 \x1b[31mred\x1b[0m \u202eevil\nnext"


@pytest.mark.parametrize(
    ("target", "newline"),
    [
        (escape.terminal, "\n"),
        (escape.visible, "\n"),
        (escape.slack, "\n"),
        (escape.html, "\n"),
        (escape.xml, "\n"),
        (escape.one_line, " "),
        (escape.header, " "),
        (escape.log, "\\x0a"),
    ],
)
def test_a_backslash_stays_one_backslash_while_controls_show(target: object, newline: str) -> None:
    shown = target(TITLE)  # type: ignore[operator]
    assert "C:\\Policies\\v2" in shown and "\\\\" not in shown
    assert "\\x1b[31mred\\x1b[0m" in shown and "\x1b" not in shown
    assert "\\u202eevil" in shown and "\u202e" not in shown
    assert f"evil{newline}next" in shown


def test_quote_keeps_a_backslash_single_where_repr_doubles_it() -> None:
    assert escape.quote("A\\B") == "'A\\B'" and repr("A\\B") == "'A\\\\B'"
    assert escape.terminal(escape.quote(TITLE)).startswith("'C:\\Policies\\v2 \\x1b[31m")
