"""Change analysis where raters see it: tasks, alerts, digests, the CLI."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import Env, Site
from tests.test_cli import as_json, run
from tests.test_outbox import HOOK_ENV, SlackStandIn, other_site, slack  # noqa: F401  (fixtures)
from tests.test_pipeline import SECTIONS, html_source, page
from watcher.notify import outbox

# The seed case: a number turned into words, a commitment turned into an expectation.
SEED = SECTIONS.replace(
    "We define a capability threshold as a 50% aggregate success rate on the tasks listed in\n"
    "the appendix.",
    "We define a capability threshold as the ability to autonomously perform a wide range of "
    "advanced tasks.",
).replace(
    "We commit to the following security themes: access control, monitoring, and\nindependent",
    "We expect this to include access control, monitoring, and\nindependent",
)
TYPO = SECTIONS.replace("publishes the outcome", "publishes teh outcome")


def setup(env: Env, site: Site, **watcher: object) -> None:
    site.set("/rsp", page())
    env.channels = {"raters": {"type": "slack", "webhook_url_env": HOOK_ENV}}
    env.watcher = {"notify": ["raters"], **watcher}
    env.sources = [html_source(site)]
    env.check()


def test_seed_change_is_major_with_its_signals_everywhere(
    env: Env,
    other_site: Site,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
) -> None:
    site = other_site
    assert SEED != SECTIONS
    setup(env, site)
    site.set("/rsp", page(SEED))
    env.check()
    [task] = env.store.tasks()
    assert task["severity"] == "major"
    assert task["summary"].startswith("major: ")
    kinds = {s["kind"] for s in json.loads(task["signals"])}
    assert {"quantitative_removed", "commitment_weakened"} <= kinds

    asyncio.run(outbox.deliver_due(env.write(), env.store))
    [post] = slack.posts
    # what a phone shows: the lab and document, then the severity and the top signal
    assert post["text"].startswith("Acme — Policy acme-rsp · major: ")
    header, first = post["blocks"][:2]
    assert header["type"] == "header" and header["text"]["text"] == post["text"]
    assert first["text"]["text"].startswith("*major* · *Acme — Policy acme-rsp*")
    assert "commitment weakened" in first["text"]["text"]

    data = as_json(run(env, "diff", "acme-rsp", "--format", "json"))
    assert data["severity"] == "major"
    assert {"quantitative_removed", "commitment_weakened"} <= {s["kind"] for s in data["signals"]}
    assert {"kind", "section", "old", "new"} <= set(data["signals"][0])
    shown = run(env, "task", "show", str(task["id"])).stdout
    assert "signals:" in shown and "commitment weakened" in shown
    assert as_json(run(env, "tasks", "--json"))[0]["severity"] == "major"


def test_typo_is_minor_without_signals(env: Env, site: Site) -> None:
    setup(env, site)
    site.set("/rsp", page(TYPO))
    env.check()
    [task] = env.store.tasks()
    assert task["severity"] == "minor" and json.loads(task["signals"]) == []


@pytest.mark.parametrize(("threshold", "held"), [("minor", False), ("substantive", True)])
def test_changes_below_the_threshold_wait_for_the_digest(
    env: Env, site: Site, threshold: str, held: bool
) -> None:
    setup(env, site)
    env.sources[0]["notify"] = ["raters"]
    env.watcher["notify"] = ["raters"]
    env.write()
    with open(env.config_path, "a", encoding="utf-8") as handle:
        handle.write(f'\n[analysis]\nalert_min_severity = "{threshold}"\n')
    from watcher.config import load_config
    from watcher.pipeline import check_all

    site.set("/rsp", page(TYPO))
    asyncio.run(check_all(load_config(env.config_path), env.store, workers=env.workers))
    [row] = env.store.notifications()
    assert row["status"] == ("held" if held else "pending")
    assert len(env.store.tasks()) == 1  # the task is opened either way
