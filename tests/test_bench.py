"""bench/run.py: the simulated web answers like the issue says, and a tiny run prints the table.

No timing is asserted: the numbers depend on the machine. The smoke test
runs the bench itself (loopback only) with 20 documents and no peer.
"""

from __future__ import annotations

import email.utils
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench

ROOT = Path(__file__).resolve().parent.parent


def test_plan_has_the_mix_the_issue_asks_for() -> None:
    docs = bench.plan(1000, 50)
    assert sum(d.kind == "pdf" for d in docs) == 100
    conditional = sum(d.validator != "none" for d in docs)
    assert 550 <= conditional <= 650
    assert all(not d.dynamic for d in docs if d.validator != "none" or d.kind == "pdf")
    assert sum(d.changes for d in docs) == 20
    assert {d.address for d in docs} == {f"127.0.0.{h}" for h in range(2, 52)}


@pytest.fixture(scope="module")
def web() -> bench.WebServer:
    docs = bench.plan(40, 4)
    return bench.WebServer(docs, 4, 0.0, pdfs={})


def _doc(web: bench.WebServer, **wanted: object) -> bench.Doc:
    return next(
        d
        for d in web.docs.values()
        if d.kind == "html" and all(getattr(d, k) == v for k, v in wanted.items())
    )


def _head(response: bytes) -> dict[str, str]:
    lines = response.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    headers = {"status": lines[0].split(" ")[1]}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return headers


def test_pages_are_policy_sized_with_the_parts_the_rules_name(web: bench.WebServer) -> None:
    doc = _doc(web, dynamic=True)
    body = web.respond(doc, {}).split(b"\r\n\r\n", 1)[1]
    assert 150_000 <= len(body) <= 320_000
    for part in (b"<article>", b'class="cookie-banner"', b"<nav", b"<footer>", b"<h2", b"<li>"):
        assert part in body


@pytest.mark.parametrize(
    ("validator", "request_headers", "status"),
    [
        ("etag", {}, "200"),
        ("etag", {"if-none-match": '"d{i}-v1"'}, "304"),
        ("etag", {"if-none-match": '"other"'}, "200"),
        ("last-modified", {"if-modified-since": "{lm}"}, "304"),
        ("last-modified", {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}, "200"),
        ("none", {"if-modified-since": "{lm}", "if-none-match": "*"}, "200"),
    ],
)
def test_conditional_requests(
    web: bench.WebServer, validator: str, request_headers: dict[str, str], status: str
) -> None:
    doc = _doc(web, validator=validator)
    lm = email.utils.formatdate(bench.BASE_DATE, usegmt=True)
    headers = {k: v.format(i=doc.index, lm=lm) for k, v in request_headers.items()}
    assert _head(web.respond(doc, headers))["status"] == status


def test_dynamic_pages_change_every_time_and_static_ones_never(web: bench.WebServer) -> None:
    dynamic, static = _doc(web, dynamic=True), _doc(web, validator="etag")
    assert web.respond(dynamic, {}) != web.respond(dynamic, {})
    assert web.respond(static, {}) == web.respond(static, {})


def test_the_changed_pass_changes_the_article_and_the_validators(web: bench.WebServer) -> None:
    doc = next(d for d in web.docs.values() if d.changes and d.kind == "html")
    before = web.respond(doc, {})
    web.command("changed", True)
    try:
        after = web.respond(doc, {})
    finally:
        web.command("changed", False)
    article = slice(before.index(b"<article>"), before.index(b"</article>"))
    assert b"we expect, rather than commit" not in before
    assert b"we expect, rather than commit" in after[after.index(b"<article>") :]
    assert before[article] != after[article]


@pytest.mark.slow
def test_smoke_run_prints_the_table() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sources",
            "20",
            "--hosts",
            "4",
            "--latency",
            "20",
            "--peer",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    rows = {
        tuple(line.split()[:2])
        for line in out.splitlines()
        if line.startswith("watcher ") and line.split()[2].replace(".", "").isdigit()
    }
    assert {("watcher", "cold"), ("watcher", "warm"), ("watcher", "changed")} <= rows, out
    assert "wall s" in out and "DB bytes" in out and "in flight" in out
    assert "politeness floor" in out
    assert "targets:" in out
    assert "watcher  cold   : 20 new version" in out, out
    assert "not modified" in out.split("watcher  warm   :")[1].splitlines()[0]


@pytest.mark.slow
def test_daemon_smoke_run_prints_cpu_per_check_rss_and_lag() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--daemon",
            "--sources",
            "20",
            "--hosts",
            "4",
            "--latency",
            "20",
            "--daemon-minutes",
            "0.1",
            "--checks-per-second",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "# cold pass first:" in out and "20 new version" in out, out
    header, _, row = out.split("\n\n", 1)[1].splitlines()[:3]
    columns = dict(zip(re.split(r"\s{2,}", header.strip()), row.split(), strict=True))
    assert columns["sources"] == "20" and columns["interval s"] == "10", out
    assert int(columns["checks"]) >= 5, out  # ~2 a second for 6 s
    assert float(columns["CPU/check ms"]) > 0, out
    assert float(columns["lag p50 ms"]) < 5000, out
    window = out.split("checks in the window: ")[1].splitlines()[0]
    assert "new version" not in window and "failed" not in window, out  # warm checks only
    assert "RSS MB (daemon) / PSS MB (tree) over the window:" in out
