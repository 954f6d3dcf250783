"""PDF structure: headings from the outline or typography, page furniture, re-pagination."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner

from tests.conftest import Env, Site
from tests.pdfs import Block, Layout, make_structured_pdf
from watcher.cli import main
from watcher.extract import extract
from watcher.extract.pdf import Bookmark, Line, heading_marks, reflow
from watcher.models import Extracted, ExtractRules

TITLE = "Frontier Safety Framework"
INTRO = (
    "This framework sets out the protocols we follow to identify and mitigate severe risks from "
    "frontier models before and during deployment, and the governance that oversees them."
)
THRESHOLDS = (
    "We will not deploy a model that reaches a critical capability level until the safeguards "
    "described below are in place and an external review has confirmed that they are adequate."
)


def blocks(section_3: str = THRESHOLDS) -> list[Block]:
    return [
        ("h", "1", TITLE),
        ("p", INTRO),
        ("h", "2", "1. Scope"),
        ("p", INTRO),
        ("label", "NOTE"),
        ("p", "Scope applies to every model we train above the compute threshold."),
        ("h", "2", "2. Definitions"),
        ("p", INTRO),
        ("table", "Capability|Level|Response", "Cyber|High|Pause", "CBRN|Critical|Stop"),
        ("caption", "Table 1: Levels and responses"),
        ("h", "3", "2.1 Critical Capability Levels"),
        ("p", THRESHOLDS),
        ("note", "1 The levels are reviewed every year."),
        ("h", "2", "3. Capability Thresholds"),
        ("p", INTRO),
        ("p", section_3),
        ("h", "3", "3.1 Cyber Autonomy"),
        ("li", "Uplift to a novice attacker against critical infrastructure."),
        ("p", INTRO),
        ("h", "2", "4. Governance"),
        ("p", THRESHOLDS),
    ]


HEADINGS = [
    "# Frontier Safety Framework",
    "## 1. Scope",
    "## 2. Definitions",
    "### 2.1 Critical Capability Levels",
    "## 3. Capability Thresholds",
    "### 3.1 Cyber Autonomy",
    "## 4. Governance",
]
TYPOGRAPHIC = Layout(header="title", page_numbers=True)
OUTLINE = Layout(outline=True, sizes=(16, 10, 10), header="chapter", footer=True)


def run_pdf(content: bytes) -> Extracted:
    return extract(
        content,
        content_type="application/pdf",
        charset=None,
        url="https://x/f.pdf",
        rules=ExtractRules(),
    )


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


@pytest.mark.parametrize(
    "layout",
    [
        TYPOGRAPHIC,
        OUTLINE,
        Layout(sizes=(16, 10, 10), footer=True),  # bold headings in the body size, numbered
        Layout(columns=2, sizes=(16, 12, 10.5), header="title", footer=True),
        Layout(outline=True, bookmark_numbers=False, new_page_per_chapter=True),
    ],
    ids=["typographic", "outline", "bold body-size", "two columns", "outline without numbers"],
)
def test_headings_become_markdown_headings(layout: Layout) -> None:
    result = run_pdf(make_structured_pdf(TITLE, blocks() * 2, layout))
    assert headings(result.text) == HEADINGS * 2
    lines = result.text.splitlines()
    # table cells, captions, labels and footnotes stay text, not headings
    assert "Table 1: Levels and responses" in lines and "NOTE" in lines
    assert any(line.startswith("Capability Level Response") for line in lines)
    assert any("reviewed every year" in line for line in lines)


def test_outline_levels_win_over_typography() -> None:
    """Bold headings all in the body size: only the outline tells 2.1 from 2."""
    unnumbered = [
        (kind, level, re.sub(r"^[\d.]+ ", "", text)) if kind == "h" else (kind, level, text)
        for kind, level, text, *_ in [
            (*block, "") if len(block) == 2 else block for block in blocks()
        ]
    ]
    doc: list[Block] = [tuple(part for part in block if part != "") for block in unnumbered]
    result = run_pdf(make_structured_pdf(TITLE, doc, replace(OUTLINE, header=None)))
    assert headings(result.text) == [re.sub(r" [\d.]+ ", " ", heading) for heading in HEADINGS]


def test_running_headers_footers_and_page_numbers_are_dropped() -> None:
    for layout in (TYPOGRAPHIC, OUTLINE):
        result = run_pdf(make_structured_pdf(TITLE, blocks() * 3, layout))
        assert result.pages and result.pages >= 3
        lines = result.text.splitlines()
        assert lines.count("# " + TITLE) == 3 and TITLE not in lines  # only as the headings
        assert not [line for line in lines if line.isdecimal() or line.startswith("Page ")]
        # the chapter's title repeated over its pages is not a second heading or a paragraph
        assert lines.count("3. Capability Thresholds") == 0


def test_repaginated_pdf_extracts_to_the_same_text() -> None:
    """A new font size and new page breaks: new line wraps, the same text.

    Footnotes left out: they are printed at the foot of whichever page their
    reference falls on, so they move within the text when the pages do.
    """
    doc = [block for block in blocks() if block[0] != "note"] * 2
    base = run_pdf(make_structured_pdf(TITLE, doc, TYPOGRAPHIC)).text
    bigger = Layout(body=12, sizes=(21, 16, 14), header="title", page_numbers=True)
    chapters = replace(TYPOGRAPHIC, new_page_per_chapter=True)
    for layout in (bigger, chapters):
        content = make_structured_pdf(TITLE, doc, layout)
        assert run_pdf(content).pages != 2 or layout is chapters
        assert run_pdf(content).text == base
    outline = run_pdf(make_structured_pdf(TITLE, doc, OUTLINE)).text
    assert (
        run_pdf(make_structured_pdf(TITLE, doc, replace(OUTLINE, body=12, sizes=(19, 12, 12)))).text
        == outline
    )


def test_guards_against_false_headings() -> None:
    """Bold lines that are not headings: a sentence, a label, bold table cells in a row,
    a caption, a bold phrase that the next line carries on in lower case."""

    def line(text: str, baseline: float, *, bold: bool = False, left: float = 50) -> Line:
        return Line(text, 0, left + 6 * len(text), 30, 10, left, baseline, bold)

    body = "Body text that runs along the whole line of the page and wraps."
    lines = [
        line(body, 800),
        line("We will stop deployment.", 780, bold=True),
        line(body, 760),
        line("WARNING", 740, bold=True),
        line(body, 720),
        line("Capability", 700, bold=True),
        line("Response", 700, bold=True, left=300),
        line("Figure 2: Risk levels", 680, bold=True),
        line(body, 660),
        line("Every model above the", 640, bold=True),
        line("threshold is reviewed by the board and others.", 620),
        line(body, 600),
        line("Safeguards", 580, bold=True),
        line(body, 560),
    ]
    marks = heading_marks(lines)
    assert [lines[n].text for n, mark in enumerate(marks) if mark.level] == ["Safeguards"]
    assert "## Safeguards" not in reflow(lines, marks) and "# Safeguards" in reflow(lines, marks)


def test_outline_titles_matched_loosely_and_unmatched_outline_ignored() -> None:
    """Bookmarks match printed headings despite case, spacing and numbering; an
    outline whose titles are mostly not on the pages yields to typography."""
    body = "Body text that runs along the whole line of the page and wraps."
    lines = [
        Line("Policy", 0, 200, 60, 18, 50, 800, True),
        Line(body, 0, 450, 30, 10, 50, 780),
        Line("3. Capability", 0, 200, 20, 10, 50, 760, True),
        Line("Thresholds", 0, 200, 60, 10, 50, 748, True),
        Line(body, 1, 450, 30, 10, 50, 780),
    ]
    outline = [Bookmark("POLICY", 0, 0), Bookmark("3 capability  thresholds", 1, 0)]
    assert reflow(lines, heading_marks(lines, outline)) == [
        "# Policy",
        body,
        "## 3. Capability Thresholds",
        body,
    ]
    stray = [Bookmark("Cover", 0, 0), Bookmark("Contents", 0, 1), Bookmark("Policy", 0, 0)]
    # typography: the title is larger than the bold heading in the body size
    assert reflow(lines, heading_marks(lines, stray))[2] == "## 3. Capability Thresholds"
    assert reflow(lines, heading_marks(lines, [Bookmark("Policy", 0, 5)]))[0] == "# Policy"


def test_pdf_change_in_section_3_has_its_heading_path(env: Env, site: Site) -> None:
    """End to end: a loopback server serves the PDF; the diff's hunk sits under
    'Frontier Safety Framework › 3. Capability Thresholds'."""
    for layout in (TYPOGRAPHIC, OUTLINE):
        site.set(
            "/fsf.pdf", make_structured_pdf(TITLE, blocks(), layout), content_type="application/pdf"
        )
        env.sources = [{"id": "fsf", "url": site.url("/fsf.pdf"), "kind": "pdf"}]
        env.write()
        runner = CliRunner()
        args = ["--config", str(env.config_path)]
        assert runner.invoke(main, [*args, "check"], catch_exceptions=False).exit_code == 0
        edited = THRESHOLDS.replace("We will not deploy", "We may choose not to deploy")
        site.set(
            "/fsf.pdf",
            make_structured_pdf(TITLE, blocks(edited), layout),
            content_type="application/pdf",
        )
        assert runner.invoke(main, [*args, "check"], catch_exceptions=False).exit_code == 0
        result = runner.invoke(
            main, [*args, "diff", "fsf", "--format", "json"], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        hunks = json.loads(result.stdout)["change"]["hunks"]
        assert [hunk["heading_path"] for hunk in hunks] == [
            ["Frontier Safety Framework", "3. Capability Thresholds"]
        ]
        text = runner.invoke(main, [*args, "diff", "fsf"], catch_exceptions=False).stdout
        assert "Frontier Safety Framework › 3. Capability Thresholds" in text
