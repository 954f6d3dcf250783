"""Citations: anchoring and re-anchoring (pure), and end to end through the CLI."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.citation_corpus import revision
from tests.conftest import Env, Site
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import citations
from watcher.cli import main
from watcher.errors import CitationError
from watcher.notify import outbox
from watcher.notify.email_render import render_email_html
from watcher.notify.render import render_plain
from watcher.notify.slack_render import render_slack

POLICY = """# Policy
## 1. Risk thresholds
We will not deploy a model that reaches a 50% aggregate success rate on the bio evals.
Other text here about the programme and its staff.
## 2. External review
We commit to an external review by independent experts each year before release.
Closing paragraph of the section on review.
"""
QUOTE = "reaches a 50% aggregate success rate on the bio evals"


def status(new: str, quote: str = QUOTE, old: str = POLICY) -> citations.Placement:
    return citations.reanchor(citations.anchor(old, quote), citations.document(new))


# --- pure ----------------------------------------------------------------------


def test_intact_through_rewrapping_hyphenation_quotes_and_ligatures() -> None:
    typeset = POLICY.replace("aggregate success rate", "aggregate suc-\ncess rate")
    assert status(typeset).status == "intact"
    assert status(POLICY.replace("1. Risk", "3. Risk")).status == "intact"  # renumbered
    old = POLICY.replace("the bio evals", "the lab's first evals")
    new = old.replace("lab's first", "lab\u2019s \ufb01rst")
    assert (
        status(new, "reaches a 50% aggregate success rate on the lab's first evals", old).status
        == "intact"
    )


def test_moved_changed_gone_with_marks() -> None:
    moved = POLICY.replace("## 1. Risk thresholds", "## Capability levels")
    assert status(moved).status == "moved"
    changed = status(POLICY.replace("a 50% aggregate success rate", "a meaningful uplift"))
    assert changed.status == "changed" and "meaningful uplift" in changed.quote
    assert ("-", "50% aggregate success rate") in changed.marks
    assert ("+", "meaningful uplift") in changed.marks
    gone = POLICY.replace(
        "We will not deploy a model that reaches a 50% aggregate success rate on the bio evals.\n",
        "",
    )
    assert status(gone).status == "gone"


@pytest.mark.parametrize(
    ("old", "new"),
    [("50%", "60%"), ("We will not deploy", "We will deploy"), ("We will not", "We may not")],
)
def test_meaning_bearing_words_are_never_intact(old: str, new: str) -> None:
    assert status(POLICY.replace(old, new)).status == "changed"


def test_anchor_refuses_absent_ambiguous_and_short_quotes() -> None:
    with pytest.raises(CitationError, match=r"closest passage .*50% aggregate success rate"):
        citations.anchor(POLICY, "reaches a 60% aggregate success rate")
    twice = (
        POLICY
        + "## 3. Appendix\nA model that reaches a 50% aggregate success rate on the bio evals.\n"
    )
    with pytest.raises(CitationError, match=r"found 2 times.*Risk thresholds.*Appendix"):
        citations.anchor(twice, QUOTE)
    assert citations.anchor(twice, QUOTE, section="appendix").heading_path[-1] == "3. Appendix"
    with pytest.raises(CitationError, match="at least 3 words"):
        citations.anchor(POLICY, "bio evals")


def test_affects_line() -> None:
    line = citations.affects_line(
        [
            {
                "criterion": "Risk thresholds",
                "citations": [
                    {"status": "changed", "marks": [["-", "50%"], ["+", "a meaningful uplift"]]}
                ],
            },
            {"criterion": "External review", "citations": [{"status": "gone"}]},
            {"criterion": "Governance", "citations": [{"status": "intact"}]},
        ]
    )
    assert line == (
        "Affects 2 graded criteria: Risk thresholds — quote changed ('50%' → 'a meaningful uplift'); "
        "External review — quote gone."
    )
    assert "no graded criteria" in citations.affects_line(
        [{"criterion": "G", "citations": [{"status": "intact"}]}]
    )


def test_generated_revisions_never_call_a_meaning_change_intact() -> None:
    rev = revision(7)
    doc = citations.document(rev.new)
    seen = 0
    for case in rev.cases:
        if case.category != "meaning":
            continue
        try:
            anchor = citations.anchor(rev.old, case.quote)
        except CitationError:
            continue
        seen += 1
        assert citations.reanchor(anchor, doc).status != "intact", case.quote
    assert seen >= 5


# --- end to end --------------------------------------------------------------------


def run(env: Env, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(env.config_path), *args], catch_exceptions=False
    )


def js(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


THRESHOLD = "a 50% aggregate success rate on the tasks listed in the appendix"
REVIEW = "independent validation of our controls by a third party every year"
HOSTILE = "<b>board</b> & <!channel>"


@pytest.fixture
def cited(env: Env, site: Site) -> Env:
    site.set(
        "/rsp", page(SECTIONS.replace("The board reviews", f"The {html.escape(HOSTILE)} reviews"))
    )
    env.sources = [html_source(site)]
    # a channel whose secret is not set: its alerts wait in the outbox, to be read here
    env.channels = {"raters": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.watcher = {"notify": ["raters"]}
    env.write()
    assert run(env, "check").exit_code == 0
    return env


def test_cite_add_list_refusals_and_csv_round_trip(cited: Env, tmp_path: Any) -> None:
    added = run(
        cited, "cite", "add", "acme-rsp", "--criterion", "Risk thresholds", "--quote", THRESHOLD
    )
    assert added.exit_code == 0 and added.stdout.strip().isdigit()
    data = js(
        run(
            cited,
            "cite",
            "add",
            "acme-rsp",
            "--criterion",
            "External review",
            "--quote",
            REVIEW,
            "--json",
        )
    )
    assert data["status"] == "intact" and data["heading_path"][-1] == "2. Security Commitments"
    dup = run(
        cited, "cite", "add", "acme-rsp", "--criterion", "Risk thresholds", "--quote", THRESHOLD
    )
    assert dup.exit_code == 1 and "already cited" in dup.stderr
    absent = run(
        cited,
        "cite",
        "add",
        "acme-rsp",
        "--criterion",
        "X",
        "--quote",
        "a 70% aggregate success rate",
    )
    assert (
        absent.exit_code == 1
        and "closest passage" in absent.stderr
        and "Traceback" not in absent.output
    )
    assert [c["criterion"] for c in js(run(cited, "cite", "list", "--json"))] == [
        "External review",
        "Risk thresholds",
    ]
    exported = run(cited, "cite", "export").stdout
    assert exported.splitlines()[0] == "lab,source,criterion,quote,note"
    path = tmp_path / "rating.csv"
    path.write_text(exported, encoding="utf-8")
    assert (
        "0 citations added" in run(cited, "cite", "import", str(path)).stdout
    )  # a re-import adds nothing
    first = js(run(cited, "cite", "list", "--json"))[0]["id"]
    assert run(cited, "cite", "remove", str(first)).exit_code == 0
    assert "1 citation added" in run(cited, "cite", "import", str(path)).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        exported + "Acme,acme-rsp,Governance,words that are not in the policy at all,\n",
        encoding="utf-8",
    )
    refused = run(cited, "cite", "import", str(bad))
    assert refused.exit_code == 1 and "CSV line 4" in refused.stderr
    assert len(js(run(cited, "cite", "list", "--json"))) == 2  # all or nothing


def test_check_after_change_reports_criteria_in_task_and_alert(cited: Env, site: Site) -> None:
    run(cited, "cite", "add", "acme-rsp", "--criterion", "Risk thresholds", "--quote", THRESHOLD)
    run(cited, "cite", "add", "acme-rsp", "--criterion", "External review", "--quote", REVIEW)
    governance = run(
        cited,
        "cite",
        "add",
        "acme-rsp",
        "--criterion",
        "Governance",
        "--quote",
        f"The {HOSTILE} reviews this policy",
    )
    assert governance.exit_code == 0, governance.output
    new = (
        SECTIONS.replace(
            "The board reviews", f"The {html.escape(HOSTILE)} {html.escape('<!here>')} reviews"
        )
        .replace("a 50% aggregate success rate", "a meaningful uplift")
        .replace(", and\nindependent validation of our controls by a third party every year", "")
    )
    site.set("/rsp", page(new))
    assert run(cited, "check").exit_code == 0
    listed = {c["criterion"]: c["citations"][0] for c in js(run(cited, "criteria", "--json"))}
    assert listed["Risk thresholds"]["status"] == "changed"
    assert "meaningful uplift" in listed["Risk thresholds"]["new_quote"]
    assert listed["External review"]["status"] == "gone"
    assert listed["Governance"]["status"] == "changed", listed["Governance"]
    task = js(run(cited, "task", "show", "1", "--json"))
    assert task["severity"] in ("substantive", "major")
    assert [c["criterion"] for c in task["criteria"]] == [
        "External review",
        "Governance",
        "Risk thresholds",
    ]
    assert task["criteria_line"].startswith(
        "Affects 3 graded criteria: External review — quote gone"
    )
    store = cited.store
    [row] = [r for r in store.notifications() if r["kind"] == "change"]
    alert = outbox.build_alert(cited.write(), store, row)
    assert alert.criteria == task["criteria_line"] and "<!here>" in alert.criteria
    # after the title, the task's event and the severity
    assert render_plain(alert).splitlines()[3] == alert.criteria
    slack = json.dumps(render_slack(alert))
    assert "&lt;!here&gt;" in slack and "<!here>" not in slack
    email = render_email_html(alert)
    assert "&lt;!here&gt;" in email and "<!here>" not in email


def test_cite_move_and_history_through_the_cli(cited: Env, site: Site) -> None:
    run(cited, "cite", "add", "acme-rsp", "--criterion", "Risk thresholds", "--quote", THRESHOLD)
    run(cited, "cite", "add", "acme-rsp", "--criterion", "External review", "--quote", REVIEW)
    early = run(cited, "cite", "move", "1")
    assert early.exit_code == 1 and "intact: nothing to move it to" in early.stderr
    new = SECTIONS.replace("a 50% aggregate success rate", "a meaningful uplift").replace(
        ", and\nindependent validation of our controls by a third party every year", ""
    )
    site.set("/rsp", page(new))
    assert run(cited, "check").exit_code == 0
    moved = js(run(cited, "cite", "move", "1", "--json"))
    assert "meaningful uplift" in moved["quote"] and "50%" not in moved["quote"]
    again = run(cited, "cite", "move", "1")
    assert again.exit_code == 1 and "nothing to move it to" in again.stderr  # moved once only
    gone = run(cited, "cite", "move", "2")
    assert gone.exit_code == 1 and "gone" in gone.stderr and "cite add" in gone.stderr
    assert "Traceback" not in gone.output
    missing = run(cited, "cite", "move", "99")
    assert missing.exit_code == 2 and "unknown citation 99" in missing.stderr  # not found
    assert "Traceback" not in missing.output
    events = js(run(cited, "cite", "history", "1", "--json"))
    assert [e["action"] for e in events] == ["added", "moved"]
    assert events[1]["quote"] == THRESHOLD  # the old passage, kept
    plain = run(cited, "cite", "history", "1")
    assert plain.exit_code == 0 and "moved" in plain.stdout and "50% aggregate" in plain.stdout
    assert "unknown citation 99" in run(cited, "cite", "history", "99").stderr


def test_citation_on_a_source_removed_from_the_config_keeps_its_history(
    cited: Env, site: Site
) -> None:
    run(cited, "cite", "add", "acme-rsp", "--criterion", "Risk thresholds", "--quote", THRESHOLD)
    site.set("/rsp", page(SECTIONS.replace("a 50% aggregate success rate", "a meaningful uplift")))
    assert run(cited, "check").exit_code == 0
    assert run(cited, "cite", "move", "1").exit_code == 0
    cited.sources = []
    cited.write()
    assert run(cited, "check").exit_code == 0
    [kept] = js(run(cited, "cite", "list", "--json"))
    assert kept["id"] == 1 and "meaningful uplift" in kept["quote"]
    events = js(run(cited, "cite", "history", "1", "--json"))
    assert [e["action"] for e in events] == ["added", "moved"]
    assert events[1]["quote"] == THRESHOLD
