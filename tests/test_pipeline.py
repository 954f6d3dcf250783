"""The pipeline end to end: a real HTTP server on 127.0.0.1, a real SQLite file, real PDFs."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from typing import Any

import pytest

from tests.conftest import Env, Site
from tests.pdfs import make_pdf
from tests.servers import free_port

SECTIONS = """
<h2>1. Capability Thresholds</h2>
<p>We define a capability threshold as a 50% aggregate success rate on the tasks listed in
the appendix. Models that cross it require the ASL-3 safeguards described below.</p>
<h2>2. Security Commitments</h2>
<p>We commit to the following security themes: access control, monitoring, and
independent validation of our controls by a third party every year.</p>
<ul><li>Two-party control for model weights.</li><li>Insider risk programme.</li></ul>
<h2>3. Governance</h2>
<p>The board reviews this policy at least once a year and publishes the outcome.</p>
"""


def page(sections: str = SECTIONS, *, token: str = "t0", stamp: str = "2026-01-01 10:00") -> str:
    return f"""<!doctype html><html><head><title>Responsible Scaling Policy</title>
<script>window.__TOKEN__ = "{token}";</script><style>p {{ color: #333 }}</style></head>
<body><nav><a href="/">Home</a> <a href="/news?session={token}">News</a></nav>
<div class="cookie-banner">We use cookies. Session {token}.</div>
<main><h1>Responsible Scaling Policy</h1>{sections}</main>
<footer>Page generated {stamp}</footer></body></html>"""


def html_source(
    site: Site, path: str = "/rsp", source_id: str = "acme-rsp", **extra: Any
) -> dict[str, Any]:
    return {
        "id": source_id,
        "url": site.url(path),
        "select": "main",
        "remove": ["nav", "footer", ".cookie-banner"],
        **extra,
    }


def one_source(env: Env, site: Site, **extra: Any) -> None:
    site.set("/rsp", page())
    env.sources = [html_source(site, **extra)]


# --- versions and tasks ---------------------------------------------------------


def test_first_check_is_a_baseline_without_task(env: Env, site: Site) -> None:
    one_source(env, site)
    result = env.check()
    outcome = env.outcome(result, "acme-rsp")
    assert outcome.outcome == "new_version" and outcome.version == 1
    assert outcome.task_id is None
    assert env.store.tasks() == [] and env.store.notifications() == []
    text = env.store.version_text(env.store.latest_version("acme-rsp"))  # type: ignore[arg-type]
    assert text.startswith("# Responsible Scaling Policy\n## 1. Capability Thresholds\n")
    assert "- Two-party control for model weights." in text
    assert "cookies" not in text and "Home" not in text and "__TOKEN__" not in text


def test_noise_only_changes_make_no_version(env: Env, site: Site) -> None:
    one_source(env, site)
    env.check()
    # a new script token, session ids in links, cookie banner, footer time, whitespace
    noisy = page(SECTIONS.replace("</p>", " \n\u00a0 </p>"), token="t1", stamp="2026-03-04 11:12")
    site.set("/rsp", noisy)
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "unchanged"
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    assert env.store.tasks() == []


def test_real_change_opens_one_task_then_extends_it(env: Env, site: Site) -> None:
    one_source(env, site, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()

    site.set(
        "/rsp", page(SECTIONS.replace("We commit to the following", "We expect this to include"))
    )
    first = env.outcome(env.check(), "acme-rsp")
    assert first.outcome == "new_version" and first.version == 2
    [task] = env.store.tasks()
    assert (task["status"], task["from_version"], task["to_version"]) == ("open", 1, 2)
    assert "2. Security Commitments" in task["summary"]
    [note] = env.store.notifications()
    payload = json.loads(note["payload"])
    assert (note["kind"], note["channel"], note["status"]) == ("change", "team", "pending")
    assert payload["event"] == "opened" and payload["new_version"] == 2

    site.set("/rsp", page(SECTIONS.replace("50% aggregate success rate", "qualitative threshold")))
    second = env.outcome(env.check(), "acme-rsp")
    assert second.version == 3 and second.task_id == first.task_id
    [task] = env.store.tasks()
    assert (task["from_version"], task["to_version"]) == (1, 3)
    # the task's summary covers the whole range v1 → v3
    assert "1. Capability Thresholds" in task["summary"]
    actions = [e["action"] for e in env.store.events(task["id"])]
    assert actions == ["opened", "extended"]
    events = [json.loads(n["payload"])["event"] for n in env.store.notifications()]
    assert events == ["opened", "extended"]


def test_a_closed_task_lets_the_next_change_open_a_new_one(env: Env, site: Site) -> None:
    from watcher import review

    one_source(env, site)
    env.check()
    site.set("/rsp", page(SECTIONS.replace("once a year", "twice a year")))
    env.check()
    [task] = env.store.tasks()
    review.close(env.store, task["id"], "reassessed, grade unchanged", config=None)
    site.set("/rsp", page(SECTIONS.replace("once a year", "every two years")))
    env.check()
    tasks = env.store.tasks()
    assert [(t["status"], t["from_version"], t["to_version"]) for t in tasks] == [
        ("closed", 1, 2),
        ("open", 2, 3),
    ]


def test_return_to_an_earlier_text(env: Env, site: Site) -> None:
    one_source(env, site)
    env.check()
    site.set("/rsp", page(SECTIONS.replace("once a year", "when it sees fit")))
    env.check()
    site.set("/rsp", page(token="t9"))
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.version == 3
    v1, _, v3 = env.store.versions("acme-rsp")
    assert v3.returned_to == 1 and v3.text_sha256 == v1.text_sha256
    # the text is stored once
    count = env.store.conn.execute(
        "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", (v1.text_sha256,)
    ).fetchone()[0]
    assert count == 1
    assert "returned to that of v1" in env.store.tasks()[0]["summary"]


def test_conditional_request_and_304(env: Env, site: Site) -> None:
    site.set("/rsp", page(), etag='"v1"')
    env.sources = [html_source(site)]
    env.check()
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "not_modified" and outcome.http_status == 304
    _path, headers = site.requests[-1]
    assert headers.get("If-None-Match") == '"v1"'
    assert env.store.source("acme-rsp")["etag"] == '"v1"'  # type: ignore[index]


def test_equal_bytes_skip_extraction(env: Env, site: Site) -> None:
    one_source(env, site)
    env.check()
    # rules unchanged, bytes unchanged: extraction is not run, so even a
    # select that now matched nothing could not fail the check
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "unchanged"
    checks = env.store.checks("acme-rsp")
    assert checks[0]["raw_sha256"] == checks[1]["raw_sha256"]


def test_rule_change_reextracts_without_a_task(env: Env, site: Site) -> None:
    one_source(env, site)
    env.check()
    requests_before = len(site.requests)
    env.sources[0]["ignore"] = ["^The board reviews"]
    env.check()
    versions = env.store.versions("acme-rsp")
    assert [(v.number, v.reextracted) for v in versions] == [(1, False), (2, True)]
    assert "The board reviews" not in env.store.version_text(versions[-1])
    assert versions[1].raw_sha256 == versions[0].raw_sha256
    assert env.store.tasks() == [] and env.store.notifications() == []
    assert len(site.requests) == requests_before + 1  # the usual check still ran


def test_a_new_extractor_reextracts_without_a_task(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade whose extractor reads the same bytes differently records a
    re-extraction once, so the next real change shows only the policy's edits."""
    from watcher import models

    one_source(env, site)
    monkeypatch.setattr(models, "EXTRACTOR_VERSION", 1)
    env.check()
    # version 1's text as an older extractor made it: one line short
    [first] = env.store.versions("acme-rsp")
    text = env.store.version_text(first)
    older = "\n".join(line for line in text.split("\n") if "board reviews" not in line)
    assert older != text
    digest = env.store.put_text(older)
    with sqlite3.connect(env.tmp / "state" / "watcher.db") as conn:
        conn.execute(
            "UPDATE versions SET text_sha256 = ? WHERE source_id = ? AND number = 1",
            (digest, "acme-rsp"),
        )
    monkeypatch.setattr(models, "EXTRACTOR_VERSION", 2)
    requests_before = len(site.requests)
    env.check()
    versions = env.store.versions("acme-rsp")
    assert [(v.number, v.reextracted) for v in versions] == [(1, False), (2, True)]
    assert env.store.version_text(versions[-1]) == text
    assert env.store.tasks() == [] and env.store.notifications() == []
    assert len(site.requests) == requests_before + 1
    env.check()  # once only
    assert len(env.store.versions("acme-rsp")) == 2


def test_the_first_version_records_its_rules_after_failed_checks(env: Env, site: Site) -> None:
    """Rules changed while a new source still fails: its first version records
    the rules it was extracted with, and the next check does not re-extract."""
    env.sources = [html_source(site)]
    assert env.outcome(env.check(), "acme-rsp").outcome == "failed"  # not published yet
    env.sources[0]["ignore"] = ["^The board reviews"]
    assert env.store.require_source("acme-rsp")["config_hash"] is None
    site.set("/rsp", page())
    env.check()
    rules_hash = {source.id: source.rules_hash for source in env.write().sources}["acme-rsp"]
    assert env.store.require_source("acme-rsp")["config_hash"] == rules_hash
    env.check()
    assert [(v.number, v.reextracted) for v in env.store.versions("acme-rsp")] == [(1, False)]
    assert env.store.require_source("acme-rsp")["config_hash"] == rules_hash


# --- PDFs and follow --------------------------------------------------------------

PDF_PAGES = [
    [
        "1. Introduction",
        "This framework sets out how we assess frontier model risk before deployment.",
    ],
    [
        "2. Thresholds",
        "We commit to pause training if evaluations show critical capability levels.",
    ],
]


def test_pdf_source_and_silent_reupload(env: Env, site: Site) -> None:
    site.set("/fsf.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    env.sources = [{"id": "acme-fsf", "url": site.url("/fsf.pdf"), "kind": "pdf"}]
    first = env.outcome(env.check(), "acme-fsf")
    assert first.outcome == "new_version"
    text = env.store.version_text(env.store.latest_version("acme-fsf"))  # type: ignore[arg-type]
    assert "We commit to pause training" in text and "2. Thresholds" in text

    # the same text in new bytes: no version, but history shows the re-upload
    site.set("/fsf.pdf", make_pdf(PDF_PAGES, width=60), content_type="application/pdf")
    second = env.outcome(env.check(), "acme-fsf")
    assert second.outcome == "unchanged"
    from watcher import queries

    history = queries.history(env.store, "acme-fsf")
    assert len(history["versions"]) == 1
    assert len(history["reuploads"]) == 1 and history["reuploads"][0]["version"] == 1

    changed = [PDF_PAGES[0], ["2. Thresholds", "We expect to pause training where appropriate."]]
    site.set("/fsf.pdf", make_pdf(changed), content_type="application/pdf")
    third = env.outcome(env.check(), "acme-fsf")
    assert third.outcome == "new_version" and third.task_id is not None


def landing(*links: tuple[str, str]) -> str:
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return page(SECTIONS + f"<h2>Versions</h2><ul>{items}</ul>")


def test_follow_tracks_linked_pdfs_and_a_new_one_opens_a_task(env: Env, site: Site) -> None:
    site.set("/v1.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/rsp", landing(("/v1.pdf", "Policy (PDF)")))
    env.sources = [html_source(site, follow="a[href$='.pdf']")]
    result = env.check()
    parent = env.outcome(result, "acme-rsp")
    assert parent.outcome == "new_version" and parent.task_id is None
    [child_id] = parent.children
    assert child_id.startswith("acme-rsp--v1-")
    assert env.outcome(result, child_id).outcome == "new_version"
    assert env.store.tasks() == []

    # a new PDF at a new hashed URL, linked with the SAME text: the page text
    # is unchanged but the new link is a change of the parent
    site.set(
        "/a7f3e/v2.pdf",
        make_pdf([*PDF_PAGES, ["3. Review", "Annual review."]]),
        content_type="application/pdf",
    )
    site.set("/rsp", landing(("/a7f3e/v2.pdf", "Policy (PDF)")))
    result = env.check()
    parent = env.outcome(result, "acme-rsp")
    [new_child] = parent.children
    assert parent.task_id is not None
    [task] = env.store.tasks()
    assert task["source_id"] == "acme-rsp" and site.url("/a7f3e/v2.pdf") in task["summary"]
    assert env.outcome(result, new_child).outcome == "new_version"  # stored as its first version
    assert env.store.source(new_child)["parent_id"] == "acme-rsp"  # type: ignore[index]
    # the old PDF is no longer linked: kept, unlinked, checked once a day
    assert env.store.source(child_id)["unlinked_at"] is not None  # type: ignore[index]
    assert all(o.source_id != child_id for o in result.outcomes)


def test_a_linked_document_that_is_a_configured_source_is_not_followed(
    env: Env, site: Site
) -> None:
    site.set("/v1.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/v2.pdf", make_pdf(PDF_PAGES[:1]), content_type="application/pdf")
    site.set("/rsp", landing(("/v1.pdf", "Policy (PDF)"), ("/v2.pdf", "Draft (PDF)")))
    pdf = {"id": "acme-pdf", "url": site.url("/v1.pdf")}
    env.sources = [html_source(site, follow="a[href$='.pdf']"), pdf]
    result = env.check()
    [child] = env.outcome(result, "acme-rsp").children
    assert env.store.source(child)["url"] == site.url("/v2.pdf")  # type: ignore[index]
    assert env.outcome(result, "acme-pdf").outcome == "new_version"


def test_a_followed_document_records_its_rules_as_a_configured_one_would(
    env: Env, site: Site
) -> None:
    """One rules hash: a followed PDF inherits its parent's `ignore` rules, and
    records the hash a configured source with those rules records."""
    site.set("/v1.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/v2.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/rsp", landing(("/v1.pdf", "Policy (PDF)")))
    parent = html_source(site, follow="a[href$='v1.pdf']", ignore=["^Annual"])
    alone = {"id": "acme-v2", "url": site.url("/v2.pdf"), "ignore": ["^Annual"]}
    env.sources = [parent, alone]
    [child] = env.outcome(env.check(), "acme-rsp").children
    recorded = env.store.require_source(child)["config_hash"]
    assert recorded == env.store.require_source("acme-v2")["config_hash"] is not None
    env.check()
    assert [v.reextracted for v in env.store.versions(child)] == [False]


# --- failures -----------------------------------------------------------------------

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("404", {"status": 404, "body": "gone"}, "HTTP 404"),
    ("500", {"status": 500, "body": "oops"}, "HTTP 500"),
    ("empty 200", {"body": ""}, "no text"),
    (
        "error page 200",
        {
            "body": "<html><body><main><h1>Page not found</h1><p>Sorry, we couldn't find that page.</p></main></body></html>"
        },
        "error page",
    ),
    (
        "select matches nothing",
        {
            "body": "<html><body><div>Policy text here that is long enough to count.</div></body></html>"
        },
        "matched nothing",
    ),
    (
        "bot challenge",
        {
            "body": "<html><head><title>Just a moment...</title></head><body><main>Checking your browser before accessing the site.</main></body></html>"
        },
        "challenge",
    ),
    ("pdf placeholder", {"body": b"%PD", "content_type": "application/pdf"}, "not a PDF"),
    (
        "corrupt pdf",
        {
            "body": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage",
            "content_type": "application/pdf",
        },
        "PDF",
    ),
    (
        "bad encoding",
        {
            "body": b"<html><body><main><p>Caf\xe9 \xff\xfe policy text of reasonable length for a test page.</p></main></body></html>",
            "content_type": "text/html; charset=utf-8",
        },
        "",
    ),
]


@pytest.mark.parametrize(("name", "answer", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_answers_are_failed_checks(
    env: Env, site: Site, name: str, answer: dict[str, Any], reason: str
) -> None:
    site.set("/good", page())
    site.set(
        "/bad",
        answer["body"],
        status=answer.get("status", 200),
        content_type=answer.get("content_type", "text/html"),
    )
    env.sources = [html_source(site, "/good", "good"), html_source(site, "/bad", "bad")]
    result = env.check()
    assert env.outcome(result, "good").outcome == "new_version"
    bad = env.outcome(result, "bad")
    if name == "bad encoding":
        # mislabelled bytes still decode: a version, not a crash
        assert bad.outcome == "new_version"
        return
    assert bad.outcome == "failed"
    assert reason.lower() in (bad.error or "").lower()
    assert "\n" not in (bad.error or "")
    row = env.store.source("bad")
    assert row is not None and row["last_error"] == bad.error and row["consecutive_failures"] == 1
    assert env.store.versions("bad") == []
    [check] = env.store.checks("bad")
    assert check["outcome"] == "failed" and check["error"] == bad.error


def test_network_failures_are_failed_checks(env: Env, site: Site) -> None:
    site.set("/good", page())
    site.set("/loop", b"", status=302, headers={"Location": "/loop"})
    site.set("/big", b"x" * 5000, content_type="text/plain")
    site.set(
        "/bomb",
        gzip.compress(b"a" * 10_000_000),
        content_type="text/html",
        headers={"Content-Encoding": "gzip"},
    )
    site.set("/html-not-pdf", page(), content_type="text/html")
    env.watcher = {"max_bytes": "4KB"}
    env.sources = [
        html_source(site, "/good", "good"),
        {"id": "refused", "url": f"http://127.0.0.1:{free_port()}/"},
        {"id": "dns", "url": "http://does-not-exist.invalid/policy"},
        {"id": "loop", "url": site.url("/loop")},
        {"id": "big", "url": site.url("/big")},
        {"id": "bomb", "url": site.url("/bomb")},
        {"id": "pdf-as-html", "url": site.url("/html-not-pdf"), "kind": "pdf"},
    ]
    env.sources[0]["id"] = "good"
    result = env.check()
    errors = {o.source_id: o.error or "" for o in result.outcomes}
    assert env.outcome(result, "good").outcome == "new_version"
    assert {o.source_id for o in result.failed} == {
        "refused",
        "dns",
        "loop",
        "big",
        "bomb",
        "pdf-as-html",
    }
    assert "refused" in errors["refused"].lower() or "connect" in errors["refused"].lower()
    assert "dns" in errors["dns"].lower()
    assert "redirect" in errors["loop"].lower()
    assert "max_bytes" in errors["big"] and "max_bytes" in errors["bomb"]
    assert "expected a pdf" in errors["pdf-as-html"].lower()


def test_encrypted_pdf_and_slow_server_are_failed_checks(env: Env, site: Site) -> None:
    site.set(
        "/locked.pdf", make_pdf(PDF_PAGES, user_password="s3cret"), content_type="application/pdf"
    )
    site.set("/good", page())
    site.set("/slow", page(), delay=3)
    env.watcher = {"timeout": "1s"}
    env.sources = [
        html_source(site, "/good", "good"),
        {"id": "locked", "url": site.url("/locked.pdf")},
        {"id": "slow", "url": site.url("/slow")},
    ]
    result = env.check()
    assert env.outcome(result, "good").outcome == "new_version"
    assert "encrypted" in (env.outcome(result, "locked").error or "").lower()
    assert "timed out" in (env.outcome(result, "slow").error or "").lower()


@pytest.mark.slow
def test_failing_after_n_failures_alerts_once_and_recovery_alerts_once(
    env: Env, site: Site
) -> None:
    env.channels = {"ops": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.watcher = {"failure_alert_after": 2, "admin_notify": ["ops"]}
    site.set("/rsp", "down", status=503)
    env.sources = [html_source(site)]
    statuses = []
    for _ in range(4):
        env.check()
        statuses.append(env.store.source("acme-rsp")["status"])  # type: ignore[index]
    assert statuses == ["new", "failing", "failing", "failing"]
    assert [n["kind"] for n in env.store.notifications()] == ["failing"]
    site.set("/rsp", page())
    env.check()
    env.check()
    row = env.store.source("acme-rsp")
    assert row is not None and (row["status"], row["consecutive_failures"], row["last_error"]) == (
        "ok",
        0,
        None,
    )
    assert [n["kind"] for n in env.store.notifications()] == ["failing", "recovered"]


def test_a_crash_inside_the_write_leaves_nothing_half_written(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watcher.store import Store

    one_source(env, site, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()
    site.set("/rsp", page(SECTIONS.replace("once a year", "every other year")))

    def broken(self: Store, **kwargs: Any) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "enqueue", broken)
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "failed" and "disk on fire" in (outcome.error or "")
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    assert env.store.tasks() == []
    monkeypatch.undo()
    outcome = env.outcome(env.check(), "acme-rsp")
    assert (
        outcome.version == 2 and len(env.store.tasks()) == 1 and len(env.store.notifications()) == 1
    )


def test_disabling_a_source_pauses_its_children_and_enabling_resumes_them(
    env: Env, site: Site
) -> None:
    site.set("/v1.pdf", make_pdf(PDF_PAGES), content_type="application/pdf")
    site.set("/rsp", landing(("/v1.pdf", "Policy (PDF)")))
    env.sources = [
        html_source(site, follow="a[href$='.pdf']"),
        html_source(site, "/other", "other"),
    ]
    site.set("/other", page())
    [child] = env.outcome(env.check(), "acme-rsp").children
    env.sources[0]["enabled"] = False
    result = env.check()
    assert {o.source_id for o in result.outcomes} == {"other"}
    assert {row["id"] for row in env.store.sources()} == {"other"}
    env.sources[0]["enabled"] = True
    result = env.check()
    assert {o.source_id for o in result.outcomes} == {"other", "acme-rsp", child}


def test_two_processes_checking_the_same_change_record_it_once(env: Env, site: Site) -> None:
    """`watcher check` beside the daemon: both see the change, one version, one task, one alert."""
    import threading

    from watcher.pipeline import check_all
    from watcher.store import Store

    one_source(env, site, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()
    site.set("/rsp", page(SECTIONS.replace("once a year", "every two years")), delay=0.5)
    config = env.write()
    outcomes: list[str] = []

    def other_process() -> None:
        store = Store.open(env.tmp / "state")
        try:
            result = asyncio.run(check_all(config, store, workers=env.workers))
            outcomes.extend(o.outcome for o in result.outcomes)
        finally:
            store.close()

    threads = [threading.Thread(target=other_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["new_version", "unchanged"]
    assert [v.number for v in env.store.versions("acme-rsp")] == [1, 2]
    assert len(env.store.tasks()) == 1 and len(env.store.notifications()) == 1
    assert env.store.integrity_check() == "ok"


def test_the_check_log_line_quotes_a_scraped_error_with_single_backslashes(
    env: Env, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.set(
        "/rsp",
        "<!doctype html><html><head><title>Moved to C:\\tmp\\x</title></head>"
        f"<body><div>{SECTIONS}</div></body></html>",
    )
    env.sources = [html_source(site)]
    with caplog.at_level("INFO", logger="watcher.pipeline"):
        env.check()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("check acme-rsp")]
    assert "outcome=failed" in line
    assert "(page title: 'Moved to C:\\tmp\\x')" in line and "\\\\" not in line
