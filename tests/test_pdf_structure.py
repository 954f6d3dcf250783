"""PDF structure: headings from the outline or typography, page furniture, re-pagination."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner, Result

from tests.conftest import Env, Site
from tests.pdfs import Block, Layout, make_structured_pdf
from tests.test_web import TestClient
from watcher.cli import main
from watcher.config import load_config
from watcher.extract import extract
from watcher.extract.pdf import Bookmark, Line, heading_marks, reflow
from watcher.models import Extracted, ExtractRules
from watcher.notify.email_render import render_email_html
from watcher.notify.outbox import build_alert
from watcher.notify.render import render_plain
from watcher.notify.slack_render import render_slack
from watcher.store import Store
from watcher.web import app as web

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


# ---------------------------------------------------------------- pages

PER_CHAPTER = replace(TYPOGRAPHIC, new_page_per_chapter=True)


def printed_on(content: bytes, words: str) -> list[int]:
    """The pages (from 1) whose text layer holds `words`: read straight from PDFium."""
    document = pdfium.PdfDocument(content)
    try:
        found = []
        for index in range(len(document)):
            textpage = document[index].get_textpage()
            if words in " ".join(textpage.get_text_range().split()):
                found.append(index + 1)
        return found
    finally:
        document.close()


@pytest.mark.parametrize(
    "layout",
    [PER_CHAPTER, replace(OUTLINE, new_page_per_chapter=True), TYPOGRAPHIC],
    ids=["typographic", "outline", "flowing"],
)
def test_each_line_knows_the_page_it_starts_on(layout: Layout) -> None:
    content = make_structured_pdf(TITLE, blocks() * 2, layout)
    result = run_pdf(content)
    lines = result.text.split("\n")
    assert result.line_pages is not None and len(result.line_pages) == len(lines)
    assert list(result.line_pages) == sorted(result.line_pages)  # pages in order
    assert result.pages is not None and max(result.line_pages) == result.pages >= 2
    for line, page in zip(lines, result.line_pages, strict=True):
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            assert page in printed_on(content, title), (line, page)


def test_a_paragraph_over_a_page_break_belongs_to_its_first_page() -> None:
    long = " ".join([INTRO] * 60)  # longer than a page
    content = make_structured_pdf(
        TITLE, [("h", "1", TITLE), ("p", long), ("p", "Closing words.")], TYPOGRAPHIC
    )
    result = run_pdf(content)
    assert result.text.split("\n")[1] == long
    assert result.line_pages == (1, 1, printed_on(content, "Closing words.")[0])
    assert result.line_pages[2] >= 2


def test_repaginated_pdf_has_the_same_text_and_other_pages() -> None:
    doc = [block for block in blocks() if block[0] != "note"] * 2
    base = run_pdf(make_structured_pdf(TITLE, doc, TYPOGRAPHIC))
    bigger = run_pdf(
        make_structured_pdf(
            TITLE, doc, Layout(body=12, sizes=(21, 16, 14), header="title", page_numbers=True)
        )
    )
    assert bigger.text == base.text and bigger.sha256 == base.sha256
    assert bigger.line_pages != base.line_pages


def test_ignored_lines_keep_the_page_map_aligned() -> None:
    content = make_structured_pdf(TITLE, blocks() * 2, PER_CHAPTER)
    plain = run_pdf(content)
    rules = ExtractRules(ignore=("^Scope applies",))
    result = extract(
        content, content_type="application/pdf", charset=None, url="https://x/f.pdf", rules=rules
    )
    kept = [
        (line, page)
        for line, page in zip(plain.text.split("\n"), plain.line_pages or (), strict=True)
        if not line.startswith("Scope applies")
    ]
    assert list(zip(result.text.split("\n"), result.line_pages or (), strict=True)) == kept


class Served:
    """One PDF source on the loopback server, checked and inspected through the CLI."""

    def __init__(self, env: Env, site: Site) -> None:
        self.env, self.site = env, site
        self.args = ["--config", str(env.config_path)]

    def serve(self, content: bytes) -> None:
        self.site.set("/fsf.pdf", content, content_type="application/pdf")

    def cli(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, [*self.args, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result


@pytest.mark.parametrize(
    "layout",
    [PER_CHAPTER, replace(OUTLINE, new_page_per_chapter=True)],
    ids=["typographic", "outline"],
)
def test_pdf_change_cites_its_page_end_to_end(env: Env, site: Site, layout: Layout) -> None:
    """A passage of section 3 edited: `diff --format json`, the text diff, `show
    --pages`, the Slack and email alerts and the dashboard's diff page all say
    its heading path and its page, as PDFium prints it."""
    served = Served(env, site)
    served.serve(make_structured_pdf(TITLE, blocks(), layout))
    env.sources = [{"id": "fsf", "url": site.url("/fsf.pdf"), "kind": "pdf", "notify": ["team"]}]
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.write()
    served.cli("check")
    edited = THRESHOLDS.replace("We will not deploy", "We may choose not to deploy")
    new_pdf = make_structured_pdf(TITLE, blocks(edited), layout)
    served.serve(new_pdf)
    served.cli("check")
    [page] = printed_on(new_pdf, "We may choose not to deploy")
    assert page >= 3
    path = ["Frontier Safety Framework", "3. Capability Thresholds"]

    data = json.loads(served.cli("diff", "fsf", "--format", "json").stdout)
    [hunk] = data["change"]["hunks"]
    assert hunk["heading_path"] == path and hunk["pages"] == [page]
    weakened = [s for s in data["signals"] if s["kind"] == "commitment_weakened"]
    assert weakened and all(s["section"] == " › ".join(path) for s in weakened)
    assert {s["page"] for s in data["signals"]} == {page}
    assert f"(line {hunk['new_start'] + 1}, p. {page})" in served.cli("diff", "fsf").stdout

    # a citation of the edited passage is anchored with its section and page
    cited = json.loads(
        served.cli(
            "cite", "add", "fsf", "--criterion", "Deployment", "--quote",
            "We may choose not to deploy", "--json",
        ).stdout
    )  # fmt: skip
    assert (cited["heading_path"], cited["page"]) == (path, page)

    shown = served.cli("show", "fsf", "--pages").stdout.split("\n")
    heading = shown.index("## 3. Capability Thresholds")
    markers = [line for line in shown[: heading + 1] if line.startswith("[[page ")]
    assert markers == [f"[[page {n}]]" for n in range(1, page + 1)]
    assert served.cli("show", "fsf").stdout == "\n".join(
        line for line in shown if not line.startswith("[[page ")
    )

    config = load_config(env.config_path)
    with Store.open(config.watcher.state_dir) as store:
        [row] = store.notifications("pending")
        alert = build_alert(config, store, row)
    slack = json.dumps(render_slack(alert), ensure_ascii=False)
    plain = render_plain(alert)
    email = render_email_html(alert)
    for rendered in (slack, plain, email):
        assert f"3. Capability Thresholds, p. {page}" in rendered  # the signal
        assert f"3. Capability Thresholds (p. {page})" in rendered  # the excerpt's hunk

    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as client:
        body = client.get("/sources/fsf/diff").text
    assert f'<span class="pdf-page">p. {page}</span>' in body
    assert f"line {hunk['new_start'] + 1}, p. {page}</span>" in body


def test_repaginated_pdf_makes_no_version(env: Env, site: Site) -> None:
    """The same text re-typeset (new font size, new page breaks): no new version,
    and the version keeps the page map of its own snapshot."""
    served = Served(env, site)
    doc = [block for block in blocks() if block[0] != "note"] * 2
    served.serve(make_structured_pdf(TITLE, doc, TYPOGRAPHIC))
    env.sources = [{"id": "fsf", "url": site.url("/fsf.pdf"), "kind": "pdf"}]
    env.write()
    served.cli("check")
    before = served.cli("show", "fsf", "--pages").stdout
    served.serve(
        make_structured_pdf(
            TITLE, doc, Layout(body=12, sizes=(21, 16, 14), header="title", page_numbers=True)
        )
    )
    assert "1 unchanged" in served.cli("check").stdout
    assert [
        v["number"] for v in json.loads(served.cli("history", "fsf", "--json").stdout)["versions"]
    ] == [1]
    assert served.cli("show", "fsf", "--pages").stdout == before


def test_show_pages_of_a_version_without_pages_is_a_one_line_error(env: Env, site: Site) -> None:
    site.set(
        "/p", "<html><body><main><h1>Policy</h1><p>We commit to audits.</p></main></body></html>"
    )
    env.sources = [{"id": "page", "url": site.url("/p")}]
    env.write()
    served = Served(env, site)
    served.cli("check")
    result = served.cli("show", "page", "--pages", code=1)
    assert result.stderr == "error: v1 of page has no pages: it is an HTML page, not a PDF\n"
    assert "Traceback" not in result.output
    data = json.loads(served.cli("diff", "page", "1", "1", "--format", "json").stdout)
    assert data["change"] is None
