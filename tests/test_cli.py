"""Every command, for people and with --json, against a real site and database."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.conftest import Env, Site
from tests.test_pipeline import SECTIONS, html_source, page
from watcher.cli import main


def run(env: Env, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(env.config_path), *args], catch_exceptions=False
    )


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def changed(env: Env, site: Site) -> Env:
    """A source with two versions and an open task."""
    site.set("/rsp", page())
    env.sources = [html_source(site)]
    env.write()
    assert run(env, "check").exit_code == 0
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    assert run(env, "check").exit_code == 0
    return env


def test_validate_prints_ok_and_count(env: Env, site: Site) -> None:
    env.sources = [html_source(site), html_source(site, "/other", "other")]
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.write()
    result = run(env, "validate")
    assert result.exit_code == 0
    assert result.stdout.strip() == "ok: 2 sources"
    assert "WATCHER_TEST_UNSET_HOOK" in result.stderr


def test_invalid_config_exits_2_with_one_line_per_problem(env: Env, tmp_path: Path) -> None:
    env.config_path.write_text(
        '[watcher]\nstate_dir = "state"\nconcurency = 3\n\n[[sources]]\nid = "a"\nlab = "L"\n'
        'title = "T"\nurl = "ftp://x"\ninterval = "5 minutes"\n',
        encoding="utf-8",
    )
    for command in (["validate"], ["check"], ["sources"], ["tasks"]):
        result = run(env, *command)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 3, lines
        assert all(line.startswith(f"{env.config_path}: ") for line in lines)
        assert "Traceback" not in result.output


def test_check_summary_and_exit_status(env: Env, site: Site) -> None:
    site.set("/rsp", page())
    env.sources = [html_source(site), html_source(site, "/missing", "missing")]
    env.write()
    result = run(env, "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("checked 2 sources in ")
    assert "1 new version, 1 failed" in result.stdout
    assert "failed missing: HTTP 404" in result.stdout
    only = run(env, "check", "acme-rsp")
    assert only.exit_code == 0 and "checked 1 source in" in only.stdout
    site.set("/rsp", page(token="t1").replace("Responsible Scaling Policy</h1>", "RSP</h1>"))
    site.set("/missing", page().replace("Responsible Scaling Policy</h1>", "Missing</h1>"))
    again = run(env, "check")
    assert "2 new versions" in again.stdout and "1 task opened or extended" in again.stdout


def test_check_unknown_source_is_a_usage_error(env: Env, site: Site) -> None:
    env.sources = [html_source(site)]
    env.write()
    result = run(env, "check", "nope")
    assert result.exit_code == 2 and "unknown source 'nope'" in result.stderr


def test_sources_json(changed: Env) -> None:
    [row] = as_json(run(changed, "sources", "--json"))
    assert row["id"] == "acme-rsp" and row["status"] == "ok" and row["versions"] == 2
    assert row["open_task"] == 1 and row["consecutive_failures"] == 0
    assert row["last_checked"] and row["last_changed"]
    for key in ("lab", "title", "url"):
        assert row[key]
    human = run(changed, "sources")
    assert human.exit_code == 0 and "acme-rsp" in human.stdout and "status" in human.stdout


def test_history_gives_each_snapshot_digest_and_response(env: Env, site: Site) -> None:
    body = page().encode("utf-8")
    site.set("/moved", b"", status=301, headers={"Location": site.url("/rsp")})
    site.set(
        "/rsp",
        body,
        content_type="text/html; charset=utf-8",
        headers={"ETag": '"abc"', "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"},
    )
    env.sources = [html_source(site, "/moved")]
    env.write()
    assert run(env, "check").exit_code == 0
    [version] = as_json(run(env, "history", "acme-rsp", "--json"))["versions"]
    # anyone holding a copy of the page can check it against the digest
    assert version["snapshot_sha256"] == hashlib.sha256(body).hexdigest()
    assert version["snapshot_as_sent"] is True
    assert version["response"] == {
        "status": 200,
        "url": site.url("/rsp"),
        "content_type": "text/html",
        "charset": "utf-8",
        "etag": '"abc"',
        "last_modified": "Tue, 01 Dec 2026 10:00:00 GMT",
    }
    lines = run(env, "history", "acme-rsp").stdout.splitlines()
    assert lines[0].split() == [
        "number",
        "captured_at",
        "text_sha256",
        "words",
        "snapshot_sha256",
        "status",
        "content_type",
        "etag",
        "last_modified",
        "note",
    ]
    row = lines[1]
    assert hashlib.sha256(body).hexdigest()[:12] in row and " 200 " in row
    assert "text/html; charset=utf-8" in row and '"abc"' in row
    assert "Tue, 01 Dec 2026 10:00:00 GMT" in row and f"from {site.url('/rsp')}" in row


def test_history_show_diff(changed: Env) -> None:
    data = as_json(run(changed, "history", "acme-rsp", "--json"))
    assert [v["number"] for v in data["versions"]] == [1, 2]
    assert {"number", "captured_at", "text_sha256", "chars", "words"} <= set(data["versions"][0])
    assert "number" in run(changed, "history", "acme-rsp").stdout

    latest = run(changed, "show", "acme-rsp")
    assert "We expect to" in latest.stdout
    first = run(changed, "show", "acme-rsp", "1")
    assert "We commit to" in first.stdout

    text = run(changed, "diff", "acme-rsp")
    assert text.exit_code == 0 and "2. Security Commitments" in text.stdout
    assert "[-commit-]" in text.stdout or "commit" in text.stdout
    js = as_json(run(changed, "diff", "acme-rsp", "1", "2", "--format", "json"))
    assert js["old"]["number"] == 1 and js["new"]["number"] == 2 and js["change"]["hunks"]
    # every signal is listed, ranked, each with a direction (null unless a quantity's)
    assert js["truncated"] == 0 and js["signals"]
    assert all("direction" in item for item in js["signals"])
    html = run(changed, "diff", "acme-rsp", "--format", "html")
    assert html.stdout.lstrip().lower().startswith("<!doctype html") and "<del" in html.stdout


def test_show_and_diff_errors(changed: Env) -> None:
    assert run(changed, "show", "acme-rsp", "9").exit_code == 2
    assert run(changed, "show", "nope").exit_code == 2
    same = run(changed, "diff", "acme-rsp", "2", "2")
    assert same.exit_code == 0 and "same text" in same.stdout


JSON_DIFF_KEYS = {"source", "old", "new", "severity", "signals", "truncated", "change"}


@pytest.fixture
def two_sources(changed: Env, site: Site) -> Env:
    """acme-rsp with two versions, and a second policy with one."""
    site.set("/rsp2", page(SECTIONS.replace("at least once a year", "every quarter")))
    changed.sources = [*changed.sources, html_source(site, "/rsp2", "acme-rsp2")]
    changed.write()
    assert run(changed, "check", "acme-rsp2").exit_code == 0
    return changed


def test_diff_any_version_of_any_source(two_sources: Env) -> None:
    env = two_sources
    js = as_json(run(env, "diff", "acme-rsp@1", "acme-rsp2", "--format", "json"))
    assert set(js) == JSON_DIFF_KEYS
    assert (js["old"]["source"], js["old"]["number"]) == ("acme-rsp", 1)
    assert (js["new"]["source"], js["new"]["number"]) == ("acme-rsp2", 1)
    assert js["source"] == "acme-rsp2" and js["change"]["hunks"]
    changed_words = json.dumps(js["change"])
    assert "quarter" in changed_words and "commit" not in changed_words  # v1 still commits

    text = run(env, "diff", "acme-rsp@2", "acme-rsp2@1")
    assert text.exit_code == 0
    first = text.stdout.splitlines()[0]
    assert first.startswith("acme-rsp v2 (") and "→ acme-rsp2 v1 (" in first
    assert "We commit to" in text.stdout or "{+commit+}" in text.stdout

    # backwards within one source, and one side alone (against the latest)
    back = run(env, "diff", "acme-rsp@2", "acme-rsp@1")
    assert (
        back.exit_code == 0 and back.stdout.startswith("acme-rsp: v2 (") and "→ v1 (" in back.stdout
    )
    alone = as_json(run(env, "diff", "acme-rsp@1", "--format", "json"))
    legacy = as_json(run(env, "diff", "acme-rsp", "1", "--format", "json"))
    assert alone["change"] == legacy["change"] and alone["new"]["number"] == 2
    assert set(legacy) == JSON_DIFF_KEYS and legacy["old"]["source"] == "acme-rsp"

    html = run(env, "diff", "acme-rsp", "acme-rsp2", "--format", "html")
    assert html.exit_code == 0 and html.stdout.lstrip().lower().startswith("<!doctype html")
    assert "acme-rsp v2" in html.stdout and "acme-rsp2 v1" in html.stdout and "<ins" in html.stdout

    same = run(env, "diff", "acme-rsp@1", "acme-rsp@1")
    assert same.exit_code == 0 and "same text" in same.stdout
    same_html = run(env, "diff", "acme-rsp@1", "acme-rsp@1", "--format", "html")
    assert same_html.exit_code == 1 and "same text" in same_html.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope@1", "acme-rsp"], "unknown source 'nope'"),
        (["acme-rsp", "nope"], "unknown source 'nope'"),
        (["acme-rsp@9", "acme-rsp2"], "source 'acme-rsp' has no version 9"),
        (["acme-rsp", "acme-rsp2@3"], "source 'acme-rsp2' has no version 3"),
        (["acme-rsp@x", "acme-rsp2"], "the version after @ must be a number"),
        (["acme-rsp@", "acme-rsp2"], "the version after @ must be a number"),
        (["acme-rsp@0", "acme-rsp2"], "the version after @ must be a number"),
        (["acme-rsp", "acme-rsp2@-1"], "the version after @ must be a number"),
        (["acme-rsp@1.5"], "the version after @ must be a number"),
        (["@2", "acme-rsp"], "names no source"),
        (["acme-rsp@1", "acme-rsp2", "acme-rsp"], "compare two sides"),
        (["acme-rsp", "1", "acme-rsp2@1"], "NEW must be a version number"),
        (["acme-rsp", "9"], "source 'acme-rsp' has no version 9"),
    ],
)
def test_diff_bad_sides_are_one_line_errors(
    two_sources: Env, args: list[str], message: str
) -> None:
    result = run(two_sources, "diff", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def test_tasks_and_task_actions(changed: Env) -> None:
    [task] = as_json(run(changed, "tasks", "--json"))
    assert task["source"] == "acme-rsp" and task["status"] == "open"
    assert (task["from_version"], task["to_version"]) == (1, 2)
    for key in ("id", "opened_at", "updated_at", "assignee", "summary", "note"):
        assert key in task
    tid = str(task["id"])

    assert as_json(run(changed, "task", "assign", tid, "alice", "--json"))["assignee"] == "alice"
    refused = run(changed, "task", "close", tid, "--note", "  ")
    assert refused.exit_code == 1 and "note is required" in refused.stderr
    closed = as_json(
        run(changed, "task", "close", tid, "--note", "reassessed, grade 2.2 → 1.9", "--json")
    )
    assert closed["status"] == "closed" and closed["note"] == "reassessed, grade 2.2 → 1.9"
    assert as_json(run(changed, "tasks", "--json")) == []
    assert len(as_json(run(changed, "tasks", "--status", "all", "--json"))) == 1
    again = run(changed, "task", "close", tid, "--note", "x")
    assert again.exit_code == 1 and "not open" in again.stderr

    assert as_json(run(changed, "task", "reopen", tid, "--json"))["status"] == "open"
    dismissed = as_json(run(changed, "task", "dismiss", tid, "--note", "typo fix only", "--json"))
    assert dismissed["status"] == "dismissed"
    shown = as_json(run(changed, "task", "show", tid, "--json"))
    assert [e["action"] for e in shown["events"]] == [
        "opened",
        "assigned",
        "closed",
        "reopened",
        "dismissed",
    ]
    assert "history:" in run(changed, "task", "show", tid).stdout
    assert run(changed, "task", "show", "99").exit_code == 2


def test_terminal_output_neutralises_escape_sequences(env: Env, site: Site) -> None:
    site.set("/rsp", page(SECTIONS + "<p>Evil \x1b]0;pwned\x07 title \x1b[2J clear</p>"))
    env.sources = [html_source(site)]
    env.write()
    run(env, "check")
    shown = run(env, "show", "acme-rsp").stdout
    assert "\x1b" not in shown and "\x07" not in shown


BIDI = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f"]


def test_show_and_diff_print_bidi_controls_escaped(env: Env, site: Site) -> None:
    site.set("/rsp", page(SECTIONS))
    env.sources = [html_source(site)]
    env.write()
    assert run(env, "check").exit_code == 0
    hostile = SECTIONS.replace("We commit to", "We \u202eexpect\u202c to").replace(
        "3. Governance", "3. Gov\u2066ernance\u2069 \u200fnow"
    )
    site.set("/rsp", page(hostile))
    assert run(env, "check").exit_code == 0

    shown = run(env, "show", "acme-rsp")
    assert shown.exit_code == 0
    assert "We \\u202eexpect\\u202c to" in shown.stdout
    assert "3. Gov\\u2066ernance\\u2069 \\u200fnow" in shown.stdout
    for name, output in (("show", shown.stdout), ("diff", run(env, "diff", "acme-rsp").stdout)):
        assert not any(char in output for char in BIDI), (name, output)
    diffed = run(env, "diff", "acme-rsp").stdout
    assert "\\u202eexpect\\u202c" in diffed and "Gov\\u2066ernance\\u2069" in diffed


def test_json_output_is_only_json(changed: Env) -> None:
    for args in (["sources", "--json"], ["tasks", "--json"], ["history", "acme-rsp", "--json"]):
        json.loads(run(changed, *args).stdout)


def test_python_dash_m_and_help(env: Env) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "check" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(env.tmp / "nope.toml"), "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip()


def test_progress_bar_fills_as_checks_finish_on_a_first_pass(env: Env, site: Site) -> None:
    """On a first pass the database knows no source: the bar's total is the
    sources to check, and grows by the documents a landing page links."""
    from tests.pdfs import make_pdf
    from tests.test_pipeline import PDF_PAGES, landing
    from watcher.cli import ProgressBar
    from watcher.pipeline import check_all

    site.set("/v1.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/v2.pdf", make_pdf(PDF_PAGES[:1]), content_type="application/pdf")
    site.set("/rsp", landing(("/v1.pdf", "v1"), ("/v2.pdf", "v2")))
    site.set("/other", page())
    env.sources = [html_source(site, follow="a[href$='.pdf']"), html_source(site, "/other", "b")]
    config = env.write()
    lines: list[str] = []
    bar = ProgressBar(lines.append)
    result = asyncio.run(check_all(config, env.store, workers=env.workers, progress=bar))
    assert len(result.outcomes) == 4 and bar.done == 4 and bar.total == 4
    shown = [re.search(r"\[([#-]+)\] (\d+)/(\d+) ", line) for line in lines]
    assert all(shown) and len(shown) == 4
    counts = [(int(m.group(2)), int(m.group(3))) for m in shown if m]
    assert counts[0] in {(1, 2), (1, 4)}  # the first check done of two planned (or four)
    assert all(done < total for done, total in counts[:-1])  # full only at the end
    assert counts[-1] == (4, 4) and "-" not in shown[-1].group(1)  # type: ignore[union-attr]
    assert "-" in shown[0].group(1)  # type: ignore[union-attr]


def test_a_missing_note_names_the_action_in_whole_words(changed: Env) -> None:
    [task] = as_json(run(changed, "tasks", "--json"))
    for action in ("close", "dismiss"):
        refused = run(changed, "task", action, str(task["id"]), "--note", " ")
        assert refused.exit_code == 1
        assert f"a note is required to {action} a task" in refused.stderr, refused.stderr


def test_serve_refuses_in_one_line_without_announcing_an_address(env: Env, site: Site) -> None:
    env.sources = [html_source(site)]
    env.write()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run(env, "serve", "--port", str(port))
    assert taken.exit_code == 1 and "dashboard on" not in taken.output
    assert taken.stderr.startswith(f"error: the dashboard cannot listen on 127.0.0.1:{port}")
    assert taken.stderr.count("\n") == 1
    open_bind = run(env, "serve", "--host", "0.0.0.0", "--port", "0")
    assert open_bind.exit_code == 2 and "dashboard on" not in open_bind.output
    assert open_bind.stderr.count("\n") == 1 and "auth_token_env" in open_bind.stderr


def test_serve_announces_the_address_it_listens_on(env: Env, site: Site) -> None:
    env.sources = [html_source(site)]
    env.write()
    command = [sys.executable, "-m", "watcher", "--config", str(env.config_path), "serve"]
    with subprocess.Popen([*command, "--port", "0"], stderr=subprocess.PIPE, text=True) as server:
        try:
            _answers_where_it_says(server)
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_serve_cleanly_with_one_line(
    env: Env, site: Site, sig: signal.Signals
) -> None:
    env.sources = [html_source(site)]
    env.write()
    command = [sys.executable, "-m", "watcher", "--config", str(env.config_path), "serve"]
    with subprocess.Popen([*command, "--port", "0"], stderr=subprocess.PIPE, text=True) as server:
        try:
            _answers_where_it_says(server)
            server.send_signal(sig)
            assert server.wait(timeout=15) == 0
        finally:
            if server.poll() is None:
                server.kill()
        assert server.stderr is not None
        assert server.stderr.read() == "stopped\n"


def test_ctrl_c_while_the_daemon_starts_is_a_clean_stop(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGINT before the daemon's own handler is in place arrives as KeyboardInterrupt."""
    from watcher import daemon

    def interrupted(*args: Any, **kwargs: Any) -> int:
        signal.raise_signal(signal.SIGINT)  # Python's default handler: KeyboardInterrupt
        return 1

    monkeypatch.setattr(daemon, "run_daemon", interrupted)
    env.sources = [html_source(site)]
    env.write()
    result = run(env, "run")
    assert result.exit_code == 0 and "Aborted" not in result.output
    assert result.stderr == "stopped\n"


def _answers_where_it_says(server: subprocess.Popen[str]) -> None:
    assert server.stderr is not None
    line = server.stderr.readline()
    found = re.fullmatch(r"dashboard on (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)\n", line)
    assert found and found.group(2) != "0", line  # the port the system chose
    # announced once listening: it answers at once
    assert httpx.get(found.group(1), timeout=5).status_code == 200


def test_check_names_a_channel_waiting_for_its_secret_only_when_alerts_wait(
    env: Env, site: Site
) -> None:
    site.set("/rsp", page())
    env.sources = [html_source(site)]
    env.channels = {"raters": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.watcher = {"notify": ["raters"]}
    env.write()
    baseline = run(env, "check")  # a first version alerts nobody: nothing waits
    assert baseline.exit_code == 0 and "waiting for" not in baseline.stdout
    assert "alerts:" not in baseline.stdout
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    changed = run(env, "check")
    assert "alerts: 1 for raters waiting for WATCHER_TEST_UNSET_HOOK" in changed.stdout


def test_a_backslash_in_a_page_title_is_shown_once(env: Env, site: Site) -> None:
    title = "Policy C:\\v2\\final \u202eevil"
    site.set("/rsp", f"<html><head><title>{title}</title></head><body><p>No main.</p></body>")
    env.sources = [html_source(site)]
    env.write()
    result = run(env, "check")
    assert result.exit_code == 1
    assert "(page title: 'Policy C:\\v2\\final \\u202eevil')" in result.stdout, result.stdout
    assert "\\\\" not in result.stdout and "\u202e" not in result.stdout


def test_tasks_table_has_lab_and_severity_and_fits_the_terminal(changed: Env) -> None:
    [task] = as_json(run(changed, "tasks", "--json"))
    assert task["lab"] == "Acme" and task["severity"] in {"minor", "substantive", "major"}
    summary = task["summary"]
    assert len(summary) > 40, summary

    def table(columns: int) -> list[str]:
        result = CliRunner().invoke(
            main,
            ["--config", str(changed.config_path), "tasks"],
            env={"COLUMNS": str(columns)},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    wide = table(400)
    assert wide[0].split() == [
        "id", "lab", "source", "status", "severity", "versions",
        "opened_at", "updated_at", "assignee", "summary",
    ]  # fmt: skip
    assert wide[1].split()[:5] == [str(task["id"]), "Acme", "acme-rsp", "open", task["severity"]]
    assert wide[1].endswith(" ".join(summary.split()))  # the whole summary: room enough
    narrow = table(100)
    assert len(narrow) == 2 and all(len(line) <= 100 for line in narrow), narrow
    assert narrow[1].endswith("…") and narrow[1].split()[0] == str(task["id"])
    assert task["opened_at"] in narrow[1]  # dates are never cut
    # at 80 columns the dates are left out (`task show` has them), the id stays whole
    tiny = table(80)
    assert all(len(line) <= 80 for line in tiny), tiny
    assert tiny[0].split() == [
        "id", "lab", "source", "status", "severity", "versions", "assignee", "summary",
    ]  # fmt: skip
    assert tiny[1].split()[:5] == [str(task["id"]), "Acme", "acme-rsp", "open", task["severity"]]


def test_tasks_table_never_cuts_a_long_id() -> None:
    from watcher.cli import _tasks_table

    row = {
        "id": 123456789, "lab": "Lab " * 10, "source": "s" * 40, "status": "open",
        "severity": None, "from_version": 1, "to_version": 2, "opened_at": "2026-01-01",
        "updated_at": "2026-01-02", "assignee": None, "summary": "word " * 50,
    }  # fmt: skip
    lines = _tasks_table([row], 80).splitlines()
    assert lines[1].startswith("123456789  ") and "…" in lines[1]
    assert all(len(line) <= 80 for line in lines), lines
