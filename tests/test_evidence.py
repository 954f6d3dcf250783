"""Reports, citable exports and WARC archives, end to end: real checks of a loopback
site serving changing pages and generated PDFs, then the commands on the database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import Env, Site
from tests.pdfs import make_pdf
from tests.test_pipeline import SECTIONS, page
from watcher import clock, escape
from watcher.cli import main
from watcher.export import csv_cell

# A Monday morning; every check and command of these tests runs at a set time.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOSTILE = "*[x](javascript:alert(1))*"
PDF_V1 = [
    ["# 1. Thresholds", "We commit to pause training at a 50% success rate on the tasks."],
    ["# 2. Review", "=1+1 reviews happen once a year <img src=x onerror=alert(1)>."],
]
PDF_V2 = [
    ["# 1. Thresholds", "We expect to pause training where appropriate on the tasks."],
    ["# 2. Review", "=1+1 reviews happen every two years <img src=x onerror=alert(1)>."],
]


def run(env: Env, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(env.config_path), *args], catch_exceptions=False
    )


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


@pytest.fixture
def history(env: Env, site: Site, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A landing page following a PDF (hostile link text), a second PDF version 2 days
    ago, a landing-page change 1 day ago with an open, assigned task, a failing source."""
    site.set("/rsp.pdf", make_pdf(PDF_V1), content_type="application/pdf")
    landing = f'<h2>Versions</h2><ul><li><a href="/rsp.pdf">{HOSTILE} (PDF)</a></li></ul>'
    site.set("/rsp", page(SECTIONS + landing))
    env.watcher = {"failure_alert_after": 1, "dashboard_url": "https://watch.example.org"}
    env.sources = [
        {
            "id": "acme-rsp",
            "lab": "Acme <b>Labs</b>",
            "title": "Responsible Scaling Policy",
            "url": site.url("/rsp"),
            "select": "main",
            "remove": ["nav", "footer", ".cookie-banner"],
            "follow": "a[href$='.pdf']",
        },
        {"id": "acme-down", "url": site.url("/gone"), "title": f"Gone {HOSTILE}"},
    ]
    at(monkeypatch, NOW - timedelta(days=10))
    env.check()
    at(monkeypatch, NOW - timedelta(days=2))
    site.set("/rsp.pdf", make_pdf(PDF_V2), content_type="application/pdf")
    env.check()
    at(monkeypatch, NOW - timedelta(days=1))
    changed = SECTIONS.replace("We commit to", f"We expect to {HOSTILE}")
    site.set("/rsp", page(changed + landing))
    env.check()
    [task] = [t for t in env.store.tasks("open") if t["source_id"] == "acme-rsp"]
    assert run(env, "task", "assign", str(task["id"]), "<b>bob</b>").exit_code == 0
    at(monkeypatch, NOW)
    return env


def child_id(env: Env) -> str:
    [child] = env.store.children("acme-rsp")
    return str(child["id"])


# --- the Markdown escaper --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HOSTILE, r"\*\[x\](javascript:alert(1))\*"),
        ("![img](https://evil.example/x.png)", r"!\[img\](https://evil.example/x.png)"),
        ("+5/−8 words (10.3% of the text)", r"\+5/−8 words (10.3% of the text)"),
        ("# heading", r"\# heading"),
        ("- item", r"\- item"),
        ("2. item", r"2\. item"),
        ("<img src=x>", r"\<img src=x\>"),
        ("a_b `c` ~~d~~ |e| &amp;", r"a\_b \`c\` \~\~d\~\~ \|e\| \&amp;"),
        # the escape shown as text (\x1b), its backslash escaped so it renders as such
        ("two\nlines\x1b[2J", r"two lines\\x1b\[2J"),
    ],
)
def test_markdown_escapes_every_active_character(text: str, expected: str) -> None:
    assert escape.markdown(text) == expected


@pytest.mark.parametrize("cell", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx"])
def test_csv_cells_that_start_like_a_formula_are_neutralised(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell
    assert csv_cell("plain") == "plain"


# --- watcher report ------------------------------------------------------------------


def test_report_md_lists_changes_by_lab_tasks_and_failures(history: Env) -> None:
    result = run(history, "report")
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("# watcher report, 2026-02-23 09:00 UTC to 2026-03-02 09:00 UTC")
    assert r"### Acme \<b\>Labs\</b\>" in md
    # both changes in the window, the baselines (10 days ago) not
    assert "v1 → v2, captured 2026-02-28 09:00 UTC" in md
    assert "v1 → v2, captured 2026-03-01 09:00 UTC" in md
    assert "commitment weakened" in md
    assert "(https://watch.example.org/sources/acme-rsp/diff?old=1&new=2)" in md
    # scraped text never becomes a link, emphasis or HTML
    assert HOSTILE not in md and not re.search(r"(?<!\\)<(img|b>)", md)
    assert r"\*\[x\](javascript:alert(1))\*" in md
    assert not re.search(r"(?<!\\)\]\(javascript", md)  # no bracket left to close a link
    # the open task with its age and (escaped) assignee; the failing source since when
    assert r"open 1 day, assigned to \<b\>bob\</b\>" in md
    assert "## Failing sources" in md and "failing since 2026-02-20 09:00 UTC" in md
    assert "HTTP 404" in md


def test_report_since_bounds_the_window(history: Env) -> None:
    md = run(history, "report", "--since", "36h").stdout
    assert "captured 2026-03-01" in md and "captured 2026-02-28" not in md
    assert "1 change," in md


def test_report_html_is_a_standalone_page_with_everything_escaped(history: Env) -> None:
    html = run(history, "report", "--format", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html and "<img" not in html and "<b>bob" not in html
    assert "&lt;b&gt;bob&lt;/b&gt;" in html and "Acme &lt;b&gt;Labs&lt;/b&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://watch.example.org/sources/acme-rsp/diff?old=1&amp;new=2"' in html


def test_report_json_fields(history: Env) -> None:
    result = run(history, "report", "--format", "json")
    data = json.loads(result.stdout)
    assert set(data) == {
        "generated_at",
        "since",
        "until",
        "dashboard_url",
        "labs",
        "changes",
        "changes_left_out",
        "open_tasks",
        "failing_sources",
    }
    assert (data["since"], data["until"]) == ("2026-02-23T09:00:00Z", "2026-03-02T09:00:00Z")
    [lab] = data["labs"]
    assert lab["lab"] == "Acme <b>Labs</b>" and data["changes"] == 2
    pdf = next(c for c in lab["changes"] if c["source"] == child_id(history))
    assert pdf["severity"] in ("substantive", "major") and pdf["version"] == 2
    assert pdf["previous"] == {"source": pdf["source"], "number": 1}
    signal = pdf["signals"][0]
    assert {"label", "kind", "section", "page", "old", "new"} <= set(signal)
    assert signal["page"] in (1, 2)
    [task] = [t for t in data["open_tasks"] if t["source"] == "acme-rsp"]
    assert task["assignee"] == "<b>bob</b>" and task["age_days"] == 1.0
    [failing] = data["failing_sources"]
    assert failing["source"] == "acme-down" and failing["failing_since"] == "2026-02-20T09:00:00Z"


def test_report_bad_since_and_format(history: Env) -> None:
    result = run(history, "report", "--since", "a week")
    assert result.exit_code == 2 and "--since: 'a week' is not a duration" in result.stderr
    assert "Traceback" not in result.output
    assert run(history, "report", "--format", "pdf").exit_code == 2


# --- watcher export --------------------------------------------------------------


def test_export_md_is_a_citation_block_with_signals_and_redline(history: Env, site: Site) -> None:
    child = child_id(history)
    result = run(history, "export", child)
    assert result.exit_code == 0, result.output
    md = result.stdout
    versions = json.loads(run(history, "history", child, "--json").stdout)["versions"]
    sha_old, sha_new = (v["snapshot_sha256"] for v in versions)
    assert sha_new == hashlib.sha256(site.pages["/rsp.pdf"].body).hexdigest()  # as served
    first = md.splitlines()[0]
    assert first.startswith(r"> Acme \<b\>Labs\</b\>, *Responsible Scaling Policy: \*\[x\]")
    assert f"version captured 2026-02-28 09:00 UTC (v2), SHA-256 `{sha_new}`" in first
    assert first.endswith("/rsp.pdf>")
    assert f"SHA-256 `{sha_old}`" in md and "2026-02-20 09:00 UTC (v1)" in md
    assert "commitment weakened" in md and "p. 1" in md
    assert "~~commit~~" in md and "**expect**" in md
    assert not re.search(r"(?<!\\)\]\(javascript", md) and not re.search(r"(?<!\\)<img", md)


def test_export_json_and_csv(history: Env) -> None:
    child = child_id(history)
    data = json.loads(run(history, "export", child, "1", "2", "--format", "json").stdout)
    assert data["old"]["number"] == 1 and data["new"]["number"] == 2
    assert data["new"]["final_url"].endswith("/rsp.pdf") and data["new"]["snapshot_as_sent"]
    assert data["citation"].startswith("Acme <b>Labs</b>, Responsible Scaling Policy: ")
    hunk = data["redline"]["hunks"][0]
    assert {"heading_path", "old_lines", "new_lines", "words", "pages"} <= set(hunk)
    assert any(s["kind"] == "commitment_weakened" and s["page"] == 1 for s in data["signals"])

    text = run(history, "export", child, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(data["signals"]) >= 2
    assert rows[0]["new_snapshot_sha256"] == data["new"]["snapshot_sha256"]
    # no cell starts like a formula: the "=1+1 reviews" quote is neutralised
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert any(c.startswith("'=1+1 reviews") for c in cells)


def test_export_across_files_with_source_at_version(history: Env, site: Site) -> None:
    child = child_id(history)
    data = json.loads(run(history, "export", f"{child}@1", f"{child}@2", "--format", "json").stdout)
    assert (data["old"]["number"], data["new"]["number"]) == (1, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme-rps"], "unknown source 'acme-rps' (did you mean 'acme-rsp'?)"),
        (["acme-rsp", "7"], "source 'acme-rsp' has no version 7 (it has v1–v2)"),
        (["acme-rsp", "2", "2"], "OLD and NEW are both v2: nothing to compare"),
        (["acme-rsp", "2", "1"], "OLD (v2) is newer than NEW (v1)"),
        (["acme-down"], "source 'acme-down' has no version yet"),
        (["acme-rsp@2", "acme-rsp@1"], "v2 is newer than v1"),
        (["acme-rsp", "x"], "unknown source 'x'"),  # `A B`: two sources, as diff reads it
        (["acme-rsp", "1", "x"], "'x': NEW must be a version number"),
    ],
)
def test_export_refuses_bad_input_in_one_line(history: Env, args: list[str], message: str) -> None:
    result = run(history, "export", *args)
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_of_a_source_with_one_version_only(env: Env, site: Site) -> None:
    site.set("/rsp", page())
    env.sources = [{"id": "solo", "url": site.url("/rsp"), "select": "main"}]
    env.check()
    result = run(env, "export", "solo")
    assert result.exit_code == 2 and "has only its first version" in result.stderr
    assert run(env, "export", "solo", "--format", "xlsx").exit_code == 2


# --- watcher archive -------------------------------------------------------------


def records(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests="raise"):
            out.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "http": record.http_headers,
                    "body": record.content_stream().read(),
                }
            )
    return out


def test_archive_writes_every_snapshot_as_warc(history: Env, tmp_path: Path) -> None:
    child = child_id(history)
    out = tmp_path / "child.warc.gz"
    result = run(history, "archive", child, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 response and 0 resource records" in result.stdout
    info, *items = records(out)
    assert info["type"] == "warcinfo" and b"software: watcher/" in info["body"]
    assert info["headers"]["WARC-Date"] == "2026-03-02T09:00:00Z"
    versions = history.store.versions(child)
    assert len(items) == len(versions) == 2
    for item, version in zip(items, versions, strict=True):
        assert item["type"] == "response"
        assert item["headers"]["WARC-Date"] == version.captured_at
        assert item["headers"]["WARC-Target-URI"] == version.url
        assert item["body"] == history.store.get_blob(version.raw_sha256)
        assert hashlib.sha256(item["body"]).hexdigest() == version.snapshot_sha256
        assert item["http"].get_statuscode() == "200"
        assert item["http"].get_header("Content-Type") == "application/pdf"
        assert item["http"].get_header("Content-Length") is None  # nothing invented


def test_archive_writes_snapshots_not_as_sent_as_resource_records(
    history: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.store.conn.execute(
        "UPDATE versions SET snapshot_as_sent = 0 WHERE source_id = 'acme-rsp' AND number = 1"
    )
    history.store.conn.commit()
    monkeypatch.chdir(tmp_path)
    result = run(history, "archive", "acme-rsp")  # default: SOURCE.warc.gz
    assert result.exit_code == 0, result.output
    _, first, second = records(tmp_path / "acme-rsp.warc.gz")
    assert first["type"] == "resource" and first["http"] is None
    assert first["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert "not known to be the body as sent" in first["headers"]["WARC-Watcher-Note"]
    assert second["type"] == "response" and second["http"].get_statuscode() == "200"


def test_archive_refuses_to_overwrite_unless_forced(history: Env, tmp_path: Path) -> None:
    out = tmp_path / "a.warc.gz"
    out.write_bytes(b"precious")
    result = run(history, "archive", "acme-rsp", "--out", str(out))
    assert result.exit_code == 1 and "exists: pass --force" in result.stderr
    assert out.read_bytes() == b"precious"
    assert run(history, "archive", "acme-rsp", "--out", str(out), "--force").exit_code == 0
    assert len(records(out)) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".a.warc")] == []
    unknown = run(history, "archive", "acme-rps", "--out", str(tmp_path / "b.warc.gz"))
    assert unknown.exit_code == 2 and "did you mean 'acme-rsp'" in unknown.stderr


def rendered(md: str) -> str:
    """The Markdown as a CommonMark reader renders it (GFM tables and strikethrough on)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)


def test_report_and_export_render_scraped_text_as_text(history: Env) -> None:
    """Rendered by a real Markdown reader, a hostile title is text: no link, image,
    emphasis or HTML of its making; our own links (diff, URLs) stay links."""
    for args in (("report",), ("export", child_id(history))):
        html = rendered(run(history, *args).stdout)
        assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # in no attribute
        assert not re.search(r"<(img|b|script)\b", html)
        assert "*[x](javascript:alert(1))*" in html  # the title, as written
        assert '<a href="http' in html
