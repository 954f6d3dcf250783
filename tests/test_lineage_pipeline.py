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
from watcher import lineage, queries
from watcher.notify.outbox import build_alert
from watcher.notify.render import render_plain
from watcher.notify.slack_render import render_slack

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
            "follow": "a[href*='.pdf']",
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
    # the old file's link is gone too: said beside the supersedes line
    document, removed = sorted(shown["documents"], key=lambda d: d["decision"] != "supersedes")
    assert document["source"] == new["id"] and document["supersedes"] == old["id"]
    assert removed["decision"] == "document_removed" and removed["source"] == old["id"]

    # the alert: the diff between the two files, its signals, the supersedes line
    payload = next(p for p in change_alerts(env) if p.get("supersedes"))
    assert payload["supersedes"] == line and payload["task_id"] == task["id"]
    row = next(r for r in env.store.notifications() if json.loads(r["payload"]).get("supersedes"))
    alert = build_alert(env.write(), env.store, row)
    assert alert.change is not None and alert.change.hunks
    text = render_plain(alert)
    assert f"Supersedes: {line}" in text and "commitment weakened" in text
    assert "We commit to pause training" in text


def test_a_rewrite_under_the_same_title_is_the_next_version(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 2)
    setup(env, site)
    set_pdf(site, "/rsp-v2.pdf", "Responsible Scaling Policy", rsp.text())
    site.set("/rsp", landing(("/rsp-v2.pdf", "Responsible Scaling Policy (version 2.0)")))
    env.check()
    old = child(env, site.url("/rsp-v2.pdf"))

    # a comprehensive rewrite: new concepts, few shared sentences, the same name
    rng = random.Random(7)
    rewrite = Style.of("anthropic", "framework", rng, rewrite=True)
    body = heading_lines(policy_text(rewrite, rng, 120), rewrite, rng)
    set_pdf(site, "/rsp-v3.pdf", "Responsible Scaling Policy", body)
    site.set(
        "/rsp",
        landing(
            ("/rsp-v3.pdf", "Responsible Scaling Policy (version 3.0)"),
            ("/rsp-v2.pdf", "Responsible Scaling Policy (version 2.0)"),
        ),
    )
    env.check()
    new = child(env, site.url("/rsp-v3.pdf"))
    assert new["supersedes"] == old["id"], new["lineage_reason"]
    [task] = env.store.tasks()
    shown = queries.task(env.store, task["id"])
    assert "(v2.0 → v3.0)" in shown["summary"]
    assert "large_rewrite" in {s["kind"] for s in shown["signals"]}


def test_a_new_version_added_beside_the_old_one_and_an_unrelated_document(
    env: Env, site: Site
) -> None:
    rsp = Policy("anthropic", "framework", 3)
    card = Policy("anthropic", "system card", 3)
    setup(env, site)
    set_pdf(site, "/rsp-v2.1.pdf", "Responsible Scaling Policy", rsp.text(COMMIT))
    site.set("/rsp", landing(("/rsp-v2.1.pdf", "Responsible Scaling Policy v2.1")))
    env.check()
    old = child(env, site.url("/rsp-v2.1.pdf"))

    set_pdf(site, "/rsp-v2.2.pdf", "Responsible Scaling Policy", rsp.revise().text(EXPECT))
    set_pdf(site, "/card.pdf", "Claude System Card", card.text())
    site.set(
        "/rsp",
        landing(
            ("/rsp-v2.2.pdf", "Responsible Scaling Policy v2.2"),
            ("/rsp-v2.1.pdf", "Responsible Scaling Policy v2.1"),
            ("/card.pdf", "Claude System Card"),
            # the same file again, with a query string and a fragment: not a new document
            ("/rsp-v2.1.pdf?download=1#page=2", "Responsible Scaling Policy v2.1 (download)"),
        ),
    )
    env.check()
    new = child(env, site.url("/rsp-v2.2.pdf"))
    other = child(env, site.url("/card.pdf"))
    assert new["supersedes"] == old["id"]
    assert other["supersedes"] is None and other["lineage_decision"] == "unrelated"
    assert len([r for r in env.store.sources() if r["parent_id"]]) == 3
    [task] = env.store.tasks()
    # the system card is only a new document linked, as before lineage
    assert "new documents linked" in task["summary"] and site.url("/card.pdf") in task["summary"]
    assert f"new file {site.url('/rsp-v2.2.pdf')} supersedes" in task["summary"]
    supersede_alerts = [p for p in change_alerts(env) if p.get("supersedes")]
    assert len(supersede_alerts) == 1 and supersede_alerts[0]["source_id"] == new["id"]


def test_a_first_check_finds_four_versions_as_history(env: Env, site: Site) -> None:
    versions = [Policy("deepmind", "framework", 4)]
    for _ in range(3):
        versions.append(versions[-1].revise())
    labels = ["1.0", "2.0", "2.1", "2.2"]
    setup(env, site)
    links = []
    for label, policy in zip(labels, versions, strict=True):
        path = f"/{random.Random(label).getrandbits(32):08x}/fsf.pdf"
        set_pdf(site, path, "Frontier Safety Framework", policy.text())
        links.append((path, f"Frontier Safety Framework, version {label}"))
    # listed newest first, as landing pages do
    site.set("/rsp", landing(*reversed(links)))
    env.check()
    ids = [child(env, site.url(path))["id"] for path, _ in links]
    chain = [env.store.source(i)["supersedes"] for i in ids]  # type: ignore[index]
    assert chain == [None, ids[0], ids[1], ids[2]]
    assert env.store.tasks() == [] and change_alerts(env) == []
    assert env.store.lineage(ids[2]) == ids


def test_a_document_close_to_two_policies_is_left_to_the_rater(env: Env, site: Site) -> None:
    framework = Policy("openai", "framework", 5)
    report = Policy("openai", "transparency report", 5)
    setup(env, site)
    set_pdf(site, "/pf.pdf", "Preparedness Framework", framework.text())
    set_pdf(site, "/report.pdf", "Preparedness Framework Report", report.text())
    site.set(
        "/rsp",
        landing(("/pf.pdf", "Preparedness Framework"), ("/report.pdf", "Framework report")),
    )
    env.check()
    merged = framework.sentences[:60] + report.sentences[:60]
    set_pdf(site, "/x9.pdf", "", "\n\n".join(" ".join(merged[i : i + 6]) for i in range(0, 120, 6)))
    site.set(
        "/rsp",
        landing(
            ("/pf.pdf", "Preparedness Framework"),
            ("/report.pdf", "Framework report"),
            ("/x9.pdf", "Download"),
        ),
    )
    env.check()
    new = child(env, site.url("/x9.pdf"))
    assert new["lineage_decision"] == "ambiguous" and new["supersedes"] is None
    [task] = env.store.tasks()
    assert f"new file {site.url('/x9.pdf')}: possibly a new version of " in task["summary"]
    assert site.url("/pf.pdf") in task["summary"] and site.url("/report.pdf") in task["summary"]


# --- reading a lineage as one history ----------------------------------------------


def swapped(env: Env, site: Site) -> tuple[str, str]:
    """v2.1.pdf checked, then swapped for v2.2.pdf; returns both ids."""
    rsp = Policy("anthropic", "framework", 1)
    setup(env, site)
    set_pdf(site, "/rsp-v2.1.pdf", "Responsible Scaling Policy", rsp.text(COMMIT))
    site.set("/rsp", landing(("/rsp-v2.1.pdf", "Responsible Scaling Policy v2.1")))
    env.check()
    set_pdf(site, "/rsp-v2.2.pdf", "Responsible Scaling Policy", rsp.revise().text(EXPECT))
    site.set("/rsp", landing(("/rsp-v2.2.pdf", "Responsible Scaling Policy v2.2")))
    env.check()
    return child(env, site.url("/rsp-v2.1.pdf"))["id"], child(env, site.url("/rsp-v2.2.pdf"))["id"]


def test_history_diff_and_sources_read_the_lineage(env: Env, site: Site) -> None:
    old, new = swapped(env, site)
    for member in (old, new):
        data = cli_json(env, "history", member, "--json")
        assert data["lineage"] == [old, new]
        assert [(v["source"], v["number"]) for v in data["versions"]] == [(old, 1), (new, 1)]
        assert data["versions"][1]["url"] == site.url("/rsp-v2.2.pdf")
    table = cli(env, "history", new)
    assert table.exit_code == 0 and old in table.output and "source" in table.output

    # no versions: the latest against the one before it in the lineage
    diff = cli_json(env, "diff", new, "--format", "json")
    assert (diff["old"]["source"], diff["new"]["source"]) == (old, new)
    assert "commitment_weakened" in {s["kind"] for s in diff["signals"]}
    # the first document of a lineage has nothing before it
    first = cli(env, "diff", old, "--format", "json")
    assert first.exit_code != 0 and "only its first version" in first.output
    # any two sides, across sources, as before
    across = cli_json(env, "diff", f"{old}@1", f"{new}@1", "--format", "json")
    assert across["change"] is not None

    rows = {row["id"]: row for row in cli_json(env, "sources", "--json")}
    assert rows[new]["supersedes"] == old and rows[old]["supersedes"] is None
    assert rows["acme-rsp"]["supersedes"] is None


def cli(env: Env, *args: str) -> Any:
    from click.testing import CliRunner

    from watcher.cli import main

    env.write()
    return CliRunner().invoke(main, ["--config", str(env.config_path), *args])


def cli_json(env: Env, *args: str) -> Any:
    result = cli(env, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- a rater's fixes ------------------------------------------------------------------


def test_a_wrong_pairing_is_undone_and_redone_with_the_cli(env: Env, site: Site) -> None:
    old, new = swapped(env, site)
    [task] = env.store.tasks()
    assert "commitment_weakened" in {
        s["kind"] for s in queries.task(env.store, task["id"])["signals"]
    }

    undone = cli(env, "lineage", "unlink", new, "--by", "rater-1")
    assert undone.exit_code == 0, undone.output
    assert f"task #{task['id']} updated" in undone.output
    shown = cli_json(env, "task", "show", str(task["id"]), "--json")
    assert "commitment_weakened" not in {s["kind"] for s in shown["signals"]}
    assert "supersedes" not in shown["summary"]
    assert f"not a new version of {old}" in shown["summary"]
    assert shown["events"][-1]["action"] == "lineage" and shown["events"][-1]["actor"] == "rater-1"
    rows = {row["id"]: row for row in cli_json(env, "sources", "--json")}
    assert rows[new]["supersedes"] is None
    assert cli_json(env, "history", new, "--json")["lineage"] == [new]
    # nothing left to unlink: one clear line
    again = cli(env, "lineage", "unlink", new)
    assert again.exit_code == 1 and "supersedes nothing" in again.output

    redone = cli(env, "lineage", "link", old, new)
    assert redone.exit_code == 0, redone.output
    assert "(v2.1 → v2.2)" in redone.output
    shown = cli_json(env, "task", "show", str(task["id"]), "--json")
    assert "commitment_weakened" in {s["kind"] for s in shown["signals"]}
    assert [e["action"] for e in shown["events"]][-2:] == ["lineage", "lineage"]
    assert env.store.source(new)["lineage_decision"] == "rater"  # type: ignore[index]

    # a link that would make a loop is refused with the loop named
    loop = cli(env, "lineage", "link", new, old)
    assert loop.exit_code == 1
    assert f"would make a loop ({old} → {new} → {old})" in loop.output
    assert env.store.source(old)["supersedes"] is None  # type: ignore[index]
    unknown = cli(env, "lineage", "link", old, "no-such-source")
    assert unknown.exit_code == 2 and "unknown source 'no-such-source'" in unknown.output


# --- an explicit lineage rule ---------------------------------------------------------


def terms_site(env: Env, site: Site, rule: str | None) -> Policy:
    """Consumer and business terms whose texts are near-identical (one a light
    revision of the other): the automatic rule takes them for one policy."""
    setup(env, site)
    if rule is not None:
        env.sources = [{**env.sources[0], "lineage": rule}]
    consumer = Policy("openai", "framework", 13)
    set_pdf(site, "/terms/consumer-terms-2025-01.pdf", "Terms of use", consumer.text())
    set_pdf(site, "/terms/business-terms-2025-01.pdf", "Terms of use", consumer.revise().text())
    site.set(
        "/rsp",
        landing(
            ("/terms/consumer-terms-2025-01.pdf", "Terms of use (individuals)"),
            ("/terms/business-terms-2025-01.pdf", "Terms of use (organisations)"),
        ),
    )
    return consumer


def add_consumer_revision(site: Site, consumer: Policy) -> None:
    set_pdf(site, "/terms/consumer-terms-2025-06.pdf", "Terms of use", consumer.revise().text())
    site.set(
        "/rsp",
        landing(
            ("/terms/consumer-terms-2025-06.pdf", "Terms of use (individuals), June 2025"),
            ("/terms/consumer-terms-2025-01.pdf", "Terms of use (individuals)"),
            ("/terms/business-terms-2025-01.pdf", "Terms of use (organisations)"),
        ),
    )


def test_without_a_rule_near_identical_policies_are_taken_for_one(env: Env, site: Site) -> None:
    terms_site(env, site, None)
    env.check()
    business = child(env, site.url("/terms/business-terms-2025-01.pdf"))
    consumer = child(env, site.url("/terms/consumer-terms-2025-01.pdf"))
    # what the rule below is for: the automatic rule chains two different policies
    assert consumer["supersedes"] == business["id"]
    assert consumer["lineage_decision"] == "supersedes"


def test_a_lineage_rule_groups_what_the_automatic_rule_cannot(env: Env, site: Site) -> None:
    consumer_terms = terms_site(env, site, r"(?P<policy>consumer|business)-terms")
    env.check()
    business = child(env, site.url("/terms/business-terms-2025-01.pdf"))
    consumer = child(env, site.url("/terms/consumer-terms-2025-01.pdf"))
    assert (business["supersedes"], consumer["supersedes"]) == (None, None)
    assert "first document of policy 'business'" in business["lineage_reason"]

    # a new consumer file: the next version of the consumer terms, never the business ones
    add_consumer_revision(site, consumer_terms)
    env.check()
    new = child(env, site.url("/terms/consumer-terms-2025-06.pdf"))
    assert new["supersedes"] == consumer["id"] and new["lineage_decision"] == "supersedes"
    assert "policy 'consumer' by the source's lineage rule" in new["lineage_reason"]
    assert env.store.source(business["id"])["supersedes"] is None  # type: ignore[index]
    [task] = env.store.tasks()
    line = (
        f"new file {site.url('/terms/consumer-terms-2025-06.pdf')} supersedes "
        f"{site.url('/terms/consumer-terms-2025-01.pdf')}"
    )
    assert line in task["summary"]


# --- removed and restored documents ----------------------------------------------------


def test_a_removed_annex_and_its_restored_link(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 6)
    annex = Policy("anthropic", "transparency report", 6)
    setup(env, site)
    set_pdf(site, "/rsp.pdf", "Responsible Scaling Policy", rsp.text())
    set_pdf(site, "/annex.pdf", "Annex: capability reports", annex.text())
    both = landing(("/rsp.pdf", "Responsible Scaling Policy"), ("/annex.pdf", "Annex"))
    site.set("/rsp", both)
    env.check()
    gone = child(env, site.url("/annex.pdf"))

    site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy")))
    before = site.hits("/annex.pdf")
    env.check()
    rows = {row["id"]: row for row in cli_json(env, "sources", "--json")}
    assert rows[gone["id"]]["status"] == "unlinked"  # still listed, its history kept
    [task] = env.store.tasks()
    shown = queries.task(env.store, task["id"])
    removed = [s for s in shown["signals"] if s["kind"] == "document_removed"]
    assert len(removed) == 1 and "v1" in removed[0]["detail"]
    assert shown["severity"] in ("substantive", "major")
    # not checked on the parent's schedule any more: once a day
    env.check()
    assert site.hits("/annex.pdf") == before

    site.set("/rsp", both)
    env.check()
    rows = {row["id"]: row for row in cli_json(env, "sources", "--json")}
    assert rows[gone["id"]]["status"] != "unlinked"
    shown = queries.task(env.store, task["id"])
    assert [s["kind"] for s in shown["signals"]].count("document_restored") == 1
    assert len(rows) == 3  # the restored link is the same document, not a new one


def slack_text(env: Env, row: Any) -> str:
    """Every mrkdwn text of the Slack message a queued alert renders to."""
    blocks = render_slack(build_alert(env.write(), env.store, row))
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def test_a_removed_document_is_on_the_landing_pages_alert(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 11)
    annex = Policy("anthropic", "transparency report", 11)
    setup(env, site)
    set_pdf(site, "/rsp.pdf", "Responsible Scaling Policy", rsp.text())
    set_pdf(site, "/annex.pdf", "Annex: capability reports", annex.text())
    hostile = "Annex &lt;!channel&gt; &amp; *reports*"
    site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy"), ("/annex.pdf", hostile)))
    env.check()
    gone = child(env, site.url("/annex.pdf"))

    # the link and its text go: the landing page's one alert says which document went
    site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy")))
    env.check()
    [row] = [r for r in env.store.notifications() if r["kind"] == "change"]
    payload = json.loads(row["payload"])
    assert row["source_id"] == "acme-rsp" and payload["signals"][0]["kind"] == "document_removed"
    assert payload["severity"] in ("substantive", "major")
    assert f"document no longer linked: {site.url('/annex.pdf')}" in payload["summary"]
    text = slack_text(env, row)
    assert "document removed" in text and site.url("/annex.pdf") in text
    assert "Annex &lt;!channel&gt; &amp;" in text and "<!channel>" not in text
    assert "v1" in payload["signals"][0]["detail"]
    assert env.store.source(gone["id"])["unlinked_at"]  # type: ignore[index]


def test_a_link_removed_under_unchanged_text_still_alerts(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 12)
    annex = Policy("anthropic", "transparency report", 12)
    setup(env, site)
    set_pdf(site, "/rsp.pdf", "Responsible Scaling Policy", rsp.text())
    set_pdf(site, "/annex.pdf", "Annex: capability reports", annex.text())
    linked = landing(("/rsp.pdf", "Responsible Scaling Policy"), ("/annex.pdf", "Annex"))
    site.set("/rsp", linked)
    env.check()

    # the annex's name stays on the page, its link goes: the text is the same
    site.set("/rsp", linked.replace('<a href="/annex.pdf">Annex</a>', "Annex"))
    env.check()
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    [row] = [r for r in env.store.notifications() if r["kind"] == "change"]
    payload = json.loads(row["payload"])
    assert [s["kind"] for s in payload["signals"]] == ["document_removed"]
    assert row["source_id"] == "acme-rsp" and row["task_id"] == env.store.tasks()[0]["id"]
    assert payload["event"] == "opened"
    text = slack_text(env, row)
    assert site.url("/annex.pdf") in text and "document removed" in text

    # the link comes back: the restoration is an alert too, on the same task
    site.set("/rsp", linked)
    env.check()
    rows = [r for r in env.store.notifications() if r["kind"] == "change"]
    assert len(rows) == 2
    again = json.loads(rows[1]["payload"])
    assert [s["kind"] for s in again["signals"]] == ["document_restored"]
    assert again["event"] == "extended" and rows[1]["task_id"] == row["task_id"]
    assert "document linked again" in again["summary"]


# --- a direct source whose URL moves ---------------------------------------------------


def policy_page(text: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n") if p.strip())
    return (
        "<!doctype html><html><body><main><h1>Frontier Safety Framework</h1>"
        f"{paragraphs}</main></body></html>"
    )


def direct(env: Env, site: Site, path: str) -> None:
    env.sources = [{"id": "acme-fsf", "url": site.url(path), "select": "main", "notify": ["team"]}]
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}


def test_a_redirect_to_a_new_url_continues_the_history(env: Env, site: Site) -> None:
    fsf = Policy("deepmind", "framework", 7)
    first = policy_page(fsf.text(COMMIT))
    direct(env, site, "/fsf")
    site.set("/fsf", first)
    env.check()

    # the old URL now redirects to a new one, same text: no new version, no alert
    site.set("/fsf", b"", status=301, headers={"Location": "/fsf-2025"})
    site.set("/fsf-2025", first)
    env.check()
    assert [v.number for v in env.store.versions("acme-fsf")] == [1]
    assert env.store.tasks() == [] and change_alerts(env) == []

    # then the text at the new URL changes: the next version of the same history
    site.set("/fsf-2025", policy_page(fsf.revise().text(EXPECT)))
    env.check()
    v1, v2 = env.store.versions("acme-fsf")
    assert (v1.url, v2.url) == (site.url("/fsf"), site.url("/fsf-2025"))
    [task] = env.store.tasks()
    assert (task["source_id"], task["from_version"], task["to_version"]) == ("acme-fsf", 1, 2)
    assert "commitment_weakened" in {
        s["kind"] for s in queries.task(env.store, task["id"])["signals"]
    }
    data = cli_json(env, "history", "acme-fsf", "--json")
    assert [v["response"]["url"] for v in data["versions"]] == [v1.url, v2.url]
    assert f"from {site.url('/fsf-2025')}" in cli(env, "history", "acme-fsf").output
    assert [row["id"] for row in env.store.sources()] == ["acme-fsf"]


def test_a_url_replaced_in_the_config_continues_the_history(env: Env, site: Site) -> None:
    fsf = Policy("deepmind", "framework", 8)
    first = policy_page(fsf.text(COMMIT))
    direct(env, site, "/fsf")
    site.set("/fsf", first)
    env.check()

    # the same source id with a new URL (the lab moved the page), same text: nothing new
    direct(env, site, "/safety/fsf")
    site.set("/safety/fsf", first)
    env.check()
    assert [v.number for v in env.store.versions("acme-fsf")] == [1]
    assert env.store.source("acme-fsf")["url"] == site.url("/safety/fsf")  # type: ignore[index]
    assert env.store.tasks() == [] and change_alerts(env) == []

    # a change at the new URL is the next version, diffed against the old URL's
    site.set("/safety/fsf", policy_page(fsf.revise().text(EXPECT)))
    env.check()
    assert [v.url for v in env.store.versions("acme-fsf")] == [
        site.url("/fsf"),
        site.url("/safety/fsf"),
    ]
    [task] = env.store.tasks()
    assert (task["from_version"], task["to_version"]) == (1, 2)
    assert len(change_alerts(env)) == 1


# --- a removed document that then disappears -------------------------------------------


def test_a_removed_document_that_starts_failing_is_one_alert(env: Env, site: Site) -> None:
    import time_machine

    from watcher import clock

    rsp = Policy("anthropic", "framework", 9)
    annex = Policy("anthropic", "transparency report", 9)
    setup(env, site)
    set_pdf(site, "/rsp.pdf", "Responsible Scaling Policy", rsp.text())
    set_pdf(site, "/annex.pdf", "Annex: capability reports", annex.text())
    site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy"), ("/annex.pdf", "Annex")))
    with time_machine.travel(clock.now(), tick=False) as traveller:
        env.check()
        gone = child(env, site.url("/annex.pdf"))
        # the link goes, and the file with it: 404 first, then 410
        site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy")))
        site.set("/annex.pdf", b"not here", status=404)
        env.check()
        for day in range(6):
            traveller.shift(86_400 + 60)
            if day == 3:
                site.set("/annex.pdf", b"gone", status=410)
            env.check()
    assert site.hits("/annex.pdf") >= 5  # still checked, once a day
    rows = env.store.notifications()
    [removed] = [row for row in rows if row["kind"] == "change"]
    assert removed["source_id"] == "acme-rsp"
    assert [row["kind"] for row in rows if row["source_id"] == gone["id"]] == []
    state = env.store.source(gone["id"])
    assert state is not None and state["unlinked_at"] and "410" in state["last_error"]
    assert state["status"] != "failing" and state["consecutive_failures"] >= 6
    [task] = env.store.tasks()
    assert [s["kind"] for s in queries.task(env.store, task["id"])["signals"]].count(
        "document_removed"
    ) == 1


def test_a_linked_document_that_fails_is_still_a_failing_source(env: Env, site: Site) -> None:
    rsp = Policy("anthropic", "framework", 10)
    setup(env, site)
    set_pdf(site, "/rsp.pdf", "Responsible Scaling Policy", rsp.text())
    site.set("/rsp", landing(("/rsp.pdf", "Responsible Scaling Policy")))
    env.check()
    doc = child(env, site.url("/rsp.pdf"))
    site.set("/rsp.pdf", b"not here", status=404)  # still linked: a broken link
    for _ in range(4):
        env.check()
    kinds = [row["kind"] for row in env.store.notifications() if row["source_id"] == doc["id"]]
    assert kinds == ["failing"]


def test_policy_key_reads_the_link_text_then_the_file_name() -> None:
    rule = r"(?P<policy>consumer|business)[- ]terms"
    assert lineage.policy_key(rule, "Business  Terms (2025)", "https://x/a.pdf") == "business"
    assert lineage.policy_key(rule, "Download", "https://x/t/Consumer-terms-v2.pdf") == "consumer"
    assert lineage.policy_key(rule, "Download", "https://x/t/consumer%20terms.pdf") == "consumer"
    assert lineage.policy_key(r"usage policy", "The Usage  Policy", "https://x/a.pdf") == (
        "usage policy"
    )
    assert lineage.policy_key(rule, "Privacy policy", "https://x/privacy.pdf") is None


def test_a_named_document_is_never_paired_with_another_name() -> None:
    text = Policy("anthropic", "framework", 14).text()
    a = lineage.Document("a", "https://x/a-v1.pdf", "v1", text=text, parent="p", key="a")
    b = lineage.Document("b", "https://x/b-v1.pdf", "v1", text=text, parent="p", key="b")
    a2 = lineage.Document("a2", "https://x/a-v2.pdf", "v2", text=text, parent="p", key="a")
    loose = lineage.Document("c", "https://x/c.pdf", "", text=text, parent="p")
    assert lineage.predecessor(a2, [a, b]).ids == ("a",)
    assert lineage.predecessor(b, [a]).kind == "unrelated"
    # a document the rule names nothing is decided among the unnamed ones only
    assert lineage.predecessor(loose, [a, b]).kind == "unrelated"
    assert lineage.predecessor(a2, [loose]).kind == "unrelated"
