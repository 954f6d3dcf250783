"""Lineage end to end: a loopback landing page whose PDFs supersede one another.

A real HTTP server on 127.0.0.1, real generated PDFs, a real SQLite file: the
pipeline decides which new file is the next version of which policy, and the
parent's task and alert carry that change's diff and signals.
"""

from __future__ import annotations

import json
import random
from typing import Any

from tests.conftest import Env, Site
from tests.pdfs import make_pdf
from tests.test_lineage import Style, heading_lines, light_revision, policy_text
from watcher import queries
from watcher.notify.outbox import build_alert
from watcher.notify.render import render_plain

COMMIT = "We commit to pause training if evaluations show critical capability levels."
EXPECT = "We expect to pause training where appropriate."


def policy_pdf(title: str, body: str) -> bytes:
    """A PDF whose first page carries `title`, then `body`'s paragraphs."""
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    pages = [["# " + title, *paragraphs[i : i + 8]] for i in range(0, len(paragraphs), 8)]
    pages[1:] = [[p for p in page if not p.startswith("# ")] for page in pages[1:]]
    return make_pdf(pages)


class Policy:
    """Versions of one generated policy text (light revisions of one another)."""

    def __init__(self, lab: str, kind: str, seed: int, *, sentences: int = 120) -> None:
        self.rng = random.Random(f"{lab}-{kind}-{seed}")
        self.style = Style.of(lab, kind, self.rng)
        self.sentences = policy_text(self.style, self.rng, sentences)

    def revise(self) -> Policy:
        other = object.__new__(Policy)
        other.rng, other.style = self.rng, self.style
        other.sentences = light_revision(self.sentences, self.style, self.rng)
        return other

    def text(self, *extra: str) -> str:
        return heading_lines(
            [*self.sentences[:30], *extra, *self.sentences[30:]], self.style, self.rng
        )


def landing(*links: tuple[str, str]) -> str:
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return (
        "<!doctype html><html><body><main><h1>Responsible Scaling Policy</h1>"
        f"<p>Our policy and its past versions.</p><ul>{items}</ul></main></body></html>"
    )


def set_pdf(site: Site, path: str, title: str, body: str) -> None:
    site.set(path, policy_pdf(title, body), content_type="application/pdf")


def setup(env: Env, site: Site) -> None:
    env.sources = [
        {
            "id": "acme-rsp",
            "url": site.url("/rsp"),
            "select": "main",
            "follow": "a[href$='.pdf']",
            "notify": ["team"],
        }
    ]
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}


def child(env: Env, url: str) -> dict[str, Any]:
    rows = [row for row in env.store.sources() if row["url"] == url]
    assert len(rows) == 1, rows
    return rows[0]


def change_alerts(env: Env) -> list[dict[str, Any]]:
    return [
        json.loads(row["payload"]) for row in env.store.notifications() if row["kind"] == "change"
    ]


def test_a_swapped_pdf_supersedes_the_old_one(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 1)
    setup(env, site)
    set_pdf(site, "/rsp-v2.1.pdf", "Responsible Scaling Policy", rsp.text(COMMIT))
    site.set("/rsp", landing(("/rsp-v2.1.pdf", "Responsible Scaling Policy v2.1")))
    env.check()
    old = child(env, site.url("/rsp-v2.1.pdf"))
    assert env.store.tasks() == []

    # the landing page now links v2.2 in place of v2.1; the commitment is weakened
    set_pdf(site, "/a7f3/rsp-v2.2.pdf", "Responsible Scaling Policy", rsp.revise().text(EXPECT))
    site.set("/rsp", landing(("/a7f3/rsp-v2.2.pdf", "Responsible Scaling Policy v2.2")))
    env.check()
    new = child(env, site.url("/a7f3/rsp-v2.2.pdf"))
    assert new["supersedes"] == old["id"] and new["lineage_decision"] == "supersedes"
    assert "v2.2 after v2.1" in new["lineage_reason"]

    [task] = env.store.tasks()
    assert task["source_id"] == "acme-rsp"
    line = (
        f"new file {site.url('/a7f3/rsp-v2.2.pdf')} supersedes "
        f"{site.url('/rsp-v2.1.pdf')} (v2.1 → v2.2)"
    )
    assert line in task["summary"]
    shown = queries.task(env.store, task["id"])
    kinds = {s["kind"] for s in shown["signals"]}
    assert "commitment_weakened" in kinds
    assert shown["severity"] in ("substantive", "major")
    [document] = shown["documents"]
    assert document["source"] == new["id"] and document["supersedes"] == old["id"]

    # the alert: the diff between the two files, its signals, the supersedes line
    payload = next(p for p in change_alerts(env) if p.get("supersedes"))
    assert payload["supersedes"] == line and payload["task_id"] == task["id"]
    row = next(r for r in env.store.notifications() if json.loads(r["payload"]).get("supersedes"))
    alert = build_alert(env.write(), env.store, row)
    assert alert.change is not None and alert.change.hunks
    text = render_plain(alert)
    assert f"Supersedes: {line}" in text and "commitment weakened" in text
    assert "We commit to pause training" in text
