"""The analysis stage: signals with evidence, severity, and their quality on a labelled corpus."""

from __future__ import annotations

import json

import pytest

from tests.analysis_corpus import CASES, GATED_KINDS, PREAMBLE, Case, doc
from watcher.analysis import (
    KIND_SEVERITY,
    MAX_SIGNALS,
    analyse,
    commitment_change,
    effective_dates,
    modality,
    quantities,
    split_sentences,
    top_changes,
    versions,
)
from watcher.config import SEVERITIES
from watcher.detect import diff
from watcher.models import SIGNAL_LABELS, Analysis, Link, Signal, signal_to_json

SECTION = "## 3. Security"


def run(case: Case) -> Analysis:
    return analyse(
        case.old,
        case.new,
        change=diff(case.old, case.new),
        watch_terms=case.watch_terms,
        new_documents=case.new_documents,
    )


def kinds(analysis: Analysis) -> set[str]:
    return {signal.kind for signal in analysis.signals}


def one(old_lines: tuple[str, ...], new_lines: tuple[str, ...], **kwargs: object) -> Analysis:
    old, new = doc(SECTION, *old_lines), doc(SECTION, *new_lines)
    return analyse(old, new, change=diff(old, new), **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# quality on the corpus


def score(cases: tuple[Case, ...]) -> dict[str, tuple[int, int, int]]:
    """Per kind: true positives, false positives, false negatives (one per case)."""
    table: dict[str, list[int]] = {kind: [0, 0, 0] for kind in SIGNAL_LABELS}
    for case in cases:
        found = kinds(run(case))
        for kind in found | case.kinds:
            row = table.setdefault(kind, [0, 0, 0])
            if kind in found and kind in case.kinds:
                row[0] += 1
            elif kind in found:
                row[1] += 1
            else:
                row[2] += 1
    return {kind: (tp, fp, fn) for kind, (tp, fp, fn) in table.items()}


def quality_table(cases: tuple[Case, ...] = CASES) -> tuple[str, dict[str, tuple[float, float]]]:
    """The precision/recall table as Markdown, and the figures per kind."""
    figures: dict[str, tuple[float, float]] = {}
    lines = [
        "| signal | expected | found | precision | recall |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (tp, fp, fn) in score(cases).items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        figures[kind] = (precision, recall)
        lines.append(f"| `{kind}` | {tp + fn} | {tp + fp} | {precision:.2f} | {recall:.2f} |")
    right = sum(run(case).severity == case.severity for case in cases)
    noise = [case for case in cases if case.noise]
    quiet = sum(kinds(run(case)) == set(case.kinds) for case in noise)
    lines.append("")
    lines.append(
        f"{len(cases)} version pairs ({len(noise)} noise or cosmetic); severity right in "
        f"{right}/{len(cases)}; noise pairs without a false signal: {quiet}/{len(noise)}."
    )
    return "\n".join(lines), figures


def test_corpus_is_big_enough_and_balanced() -> None:
    assert len(CASES) >= 40
    noise = sum(case.noise for case in CASES)
    assert noise >= 0.4 * len(CASES)
    for kind in GATED_KINDS:
        assert sum(kind in case.kinds for case in CASES) >= 2, kind
    assert len({case.name for case in CASES}) == len(CASES)


def test_precision_and_recall_on_the_corpus() -> None:
    table, figures = quality_table()
    print("\n" + table)
    for kind in GATED_KINDS:
        precision, recall = figures[kind]
        assert precision >= 0.9, f"{kind}: precision {precision:.2f}\n{table}"
        assert recall >= 0.85, f"{kind}: recall {recall:.2f}\n{table}"


def test_severity_on_the_corpus() -> None:
    wrong = [
        (case.name, case.severity, run(case).severity)
        for case in CASES
        if run(case).severity != case.severity
    ]
    assert len(wrong) <= 0.1 * len(CASES), wrong


# ---------------------------------------------------------------------------
# the seed and the done-when examples

SEED_V1_THRESHOLD = (
    "The model shows early signs of autonomous self-replication ability, as defined by a 50% "
    "aggregate success rate on the tasks listed in [Appendix on Autonomy Evaluations]."
)
SEED_V2_THRESHOLD = (
    "The ability to either fully automate the work of an entry-level remote-only researcher at "
    "Anthropic, or cause dramatic acceleration in the rate of effective scaling."
)
SEED_V1_SECURITY = (
    "We commit to the following security themes [...] mandatory external reviews should embed "
    "security within regular operations and harden processes during organizational changes."
)
SEED_V2_SECURITY = "We expect this to include independent validation [...]"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (SEED_V1_THRESHOLD, SEED_V2_THRESHOLD, "quantitative_removed"),
        (SEED_V1_SECURITY, SEED_V2_SECURITY, "commitment_weakened"),
    ],
)
def test_seed_examples_are_major(old: str, new: str, expected: str) -> None:
    analysis = one((old,), (new,))
    assert analysis.severity == "major"
    assert expected in kinds(analysis)
    signal = next(s for s in analysis.signals if s.kind == expected)
    assert signal.old == old
    assert signal.section == "Frontier Safety Policy › 3. Security"


def test_seed_both_changes_at_once() -> None:
    analysis = one(
        ("### ASL-3", SEED_V1_THRESHOLD, "### Security", SEED_V1_SECURITY),
        ("### ASL-3", SEED_V2_THRESHOLD, "### Security", SEED_V2_SECURITY),
        watch_terms=("external review",),
    )
    assert analysis.severity == "major"
    assert {"quantitative_removed", "commitment_weakened", "term_changed"} <= kinds(analysis)
    assert analysis.headline().startswith("major: ")
    removed = next(s for s in analysis.signals if s.kind == "quantitative_removed")
    assert removed.detail == "'50%' removed"
    assert removed.new == SEED_V2_THRESHOLD  # the replacement is the evidence


def test_typo_fix_is_minor_without_signal() -> None:
    analysis = one(
        ("We comit to protecting model weights from theft.",),
        ("We commit to protecting model weights from theft.",),
    )
    assert analysis == Analysis("minor", ())
    assert analysis.headline() == "minor: no signals"


def test_equal_texts_and_change_none() -> None:
    text = doc(SECTION, "We will protect weights.")
    assert analyse(text, text) == Analysis("minor", ())


# ---------------------------------------------------------------------------
# one table per signal


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("We must evaluate every model.", "We should evaluate every model.", "weakened"),
        ("We will evaluate every model.", "We may evaluate every model.", "weakened"),
        ("We commit to evaluating.", "We intend to evaluate.", "weakened"),
        ("We will share results.", "We will share results where appropriate.", "weakened"),
        ("We must not deploy it.", "We should not deploy it.", "weakened"),
        ("We should evaluate every model.", "We must evaluate every model.", "strengthened"),
        ("We may pause training.", "We will pause training.", "strengthened"),
        ("We will, as needed, pause.", "We will pause.", "strengthened"),
        ("We will evaluate every model.", "We shall evaluate every model.", None),
        ("We will not deploy it.", "We won't deploy it.", None),
        ("We rely on goodwill.", "We rely on the goodwill of partners.", None),
        ("Published in May 2024.", "First published in May 2024.", None),
        ("Our plan covers two areas.", "Our plan covers three areas.", None),
    ],
)
def test_commitment_change(old: str, new: str, expected: str | None) -> None:
    assert commitment_change(old, new) == expected


def test_modality_counts_word_boundaries_and_negations() -> None:
    assert modality("goodwill and willpower").firm == 0
    assert modality("We will not deploy").firm == 1
    assert modality("We may, where appropriate, aim to publish").hedge == 3
    assert modality("In May 2025 we published it").hedge == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 50% aggregate success rate", [("percent", 50.0)]),
        ("above 50 percent", [("percent", 50.0)]),
        ("an increase of approximately 1000x in a year", [("multiplier", 1000.0)]),
        ("a 1,000× increase", [("multiplier", 1000.0)]),
        ("more than 10^26 FLOP", [("magnitude", 1e26)]),
        ("more than 1e26 FLOP", [("magnitude", 1e26)]),
        ("more than 10²⁶ operations", [("magnitude", 1e26)]),
        ("every 6 months", [("duration", 182.625)]),
        ("every 12 months", [("duration", 365.25)]),
        ("annually", [("duration", 365.25)]),
        ("within 72 hours", [("duration", 3.0)]),
        ("at least 5 evaluations", [("number", 5.0)]),
        ("at least two reviewers", [("number", 2.0)]),
        ("three pillars", []),
        ("ASL-3 safeguards", [("level:ASL", 3.0)]),
        ("by March 2025", [("date", 20250300.0)]),
        ("published in March 2025", []),
        ("Version 2.1 of the policy", []),
        ("see Section 4.2 and Appendix 3", []),
        ("© 2025 Example AI", []),
        ("Page 4 of 40", []),
        ("a budget of $5 million", [("money", 5e6)]),
    ],
)
def test_quantities(text: str, expected: list[tuple[str, float]]) -> None:
    assert [(q.kind, q.value) for q in quantities(text)] == expected


def test_versions_and_effective_dates() -> None:
    assert versions("Version 2.0 replaces v1.1 (see version 1)") == [
        "Version 2.0",
        "v1.1",
        "version 1",
    ]
    assert versions("an evolving 2025 approach") == []
    assert effective_dates("Effective date: October 15, 2024") == [(20241015.0, "October 15, 2024")]
    assert effective_dates("Last updated 2025-05-14") == [(20250514.0, "2025-05-14")]
    assert effective_dates("We will finish by 2025-05-14") == []


def test_split_sentences() -> None:
    assert split_sentences("We test, e.g. biology. Results are kept; access is logged.") == [
        "We test, e.g. biology.",
        "Results are kept;",
        "access is logged.",
    ]
    assert split_sentences("Themes [...] mandatory reviews. Next") == [
        "Themes [...] mandatory reviews.",
        "Next",
    ]


@pytest.mark.parametrize(
    ("old", "new", "kind", "detail"),
    [
        (
            "Training above 10^26 FLOP.",
            "Training above 10^25 FLOP.",
            "quantitative_changed",
            "'10^26 FLOP' → '10^25 FLOP'",
        ),
        (
            "Reviewed every 3 months.",
            "Reviewed regularly.",
            "quantitative_removed",
            "'3 months' removed",
        ),
        (
            "Tested on biology tasks.",
            "Tested on at least 10 biology tasks.",
            "quantitative_added",
            "'10' added",
        ),
        ("Solves 80% of tasks.", "Solves 60% of tasks.", "quantitative_changed", "'80%' → '60%'"),
    ],
)
def test_quantitative_signals(old: str, new: str, kind: str, detail: str) -> None:
    analysis = one((old,), (new,))
    assert [(s.kind, s.detail.split(" (")[0], s.old, s.new) for s in analysis.signals] == [
        (kind, detail, old, new)
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Repeated five times.", "Repeated 5 times."),
        ("Reviewed every 12 months.", "Reviewed every year."),
        ("Above 50 percent.", "Above 50%."),
        ("A 50% success rate on the tasks.", "A success rate of 50% on the tasks."),
        ("A 1,000x increase or 10^26 FLOP.", "A 1000x increase or 1e26 FLOP."),
    ],
)
def test_equal_quantities_written_differently(old: str, new: str) -> None:
    assert one((old,), (new,)).signals == ()


def test_watch_terms_appear_and_disappear() -> None:
    analysis = one(
        ("Audited by a third-party firm. Reported to the board.",),
        ("Audited internally. Reported to the board and a whistleblower office.",),
        watch_terms=("third-party", "whistleblower", "board"),
    )
    found = sorted((s.kind, s.detail) for s in analysis.signals if s.kind == "term_changed")
    assert found == [
        ("term_changed", "'third-party' removed"),
        ("term_changed", "'whistleblower' added"),
    ]
    assert analysis.severity == "major"  # a watched term disappeared


def test_watch_term_spelling_variants_are_the_same_term() -> None:
    analysis = one(
        ("A third party audits us.",),
        ("Third-party auditors audit us.",),
        watch_terms=("third-party",),
    )
    assert "term_changed" not in kinds(analysis)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "This policy applies to our most advanced models that match or exceed X.",
            "This policy applies to our models that exceed X.",
            True,
        ),
        (
            "If a model crosses the threshold, we will not deploy it.",
            "If a model clearly crosses the threshold, we will not deploy it.",
            True,
        ),
        ("This policy applies to all models.", "This policy covers all models.", False),
        (
            "If a model crosses the threshold, we may pause.",
            "If a model crosses the threshold, we will pause.",
            False,
        ),
        (
            "We will not deploy it unless safeguards are ready.",
            "Unless safeguards are ready, we will not deploy it.",
            False,
        ),
        ("The report was written by the team.", "The report was written by the board.", False),
    ],
)
def test_scope_changed(old: str, new: str, expected: bool) -> None:
    assert ("scope_changed" in kinds(one((old,), (new,)))) is expected


def test_sections_added_removed_renamed_moved() -> None:
    old = doc(
        "## A. Weights",
        "Weights are encrypted.",
        "## B. Staff",
        "Staff are vetted.",
        "## C. Audits",
        "Audits happen.",
        "## D. Old",
        "Logs are kept for auditors.",
    )
    new = doc(
        "## B. Staff",
        "Staff are vetted.",
        "## A. Weights",
        "Weights are encrypted.",
        "## C. External audits",
        "Audits happen.",
        "## E. New",
        "Red-teaming is ongoing.",
    )
    analysis = analyse(old, new)
    found = sorted((s.kind, s.old, s.new) for s in analysis.signals if s.kind.startswith("section"))
    assert found == [
        ("section_added", None, "E. New"),
        ("section_removed", "D. Old", None),
        ("section_renamed", "C. Audits", "C. External audits"),
    ]
    assert analysis.severity == "major"  # a section was removed


def test_version_label_and_effective_date() -> None:
    analysis = one(
        ("Version 2.0", "Effective: 15 October 2024"),
        ("Version 2.1", "Effective: 31 March 2025"),
    )
    assert [(s.kind, s.old, s.new) for s in analysis.signals] == [
        ("version_label_changed", "Version 2.0", "Version 2.1"),
        ("effective_date_changed", "15 October 2024", "31 March 2025"),
    ]
    assert analysis.severity == "substantive"


def test_date_only_footer_is_minor() -> None:
    analysis = one(("Last updated: 14 May 2025",), ("Last updated: 2 June 2025",))
    assert analysis.severity == "minor"
    assert kinds(analysis) == {"effective_date_changed"}


def test_new_document_and_large_rewrite() -> None:
    link = Link("https://example.org/v3.pdf", "Policy v3 (PDF)")
    text = doc(SECTION, "Unchanged.")
    analysis = analyse(text, text, new_documents=(link,))
    assert analysis.signals == (Signal("new_document", "", None, link.url, link.text),)
    assert analysis.severity == "substantive"

    old = "\n".join(f"Paragraph {i} says one thing about the risk programme." for i in range(20))
    new = "\n".join(f"Section {i} describes another matter entirely, at length." for i in range(20))
    for share, expected in ((0.5, True), (1.0, False)):
        found = analyse(old, new, large_rewrite_share=share)
        assert ("large_rewrite" in kinds(found)) is expected
    assert analyse(old, new).severity == "major"


def test_without_change_gives_the_same_answer() -> None:
    # The same signals; only the share in a large_rewrite detail may differ a
    # little (analysis estimates it from its own line diff).
    def evidence(analysis: Analysis) -> list[tuple[str, str, str | None, str | None]]:
        return [(s.kind, s.section, s.old, s.new) for s in analysis.signals]

    for case in CASES:
        alone = analyse(
            case.old, case.new, watch_terms=case.watch_terms, new_documents=case.new_documents
        )
        assert evidence(alone) == evidence(run(case)), case.name


def test_substantive_thresholds_are_configurable() -> None:
    old = doc(SECTION, "Deployment requires sign-off from the CEO and the RSO.")
    new = doc(SECTION, "Deployment requires sign-off from the RSO.")
    assert analyse(old, new).severity == "minor"
    assert analyse(old, new, substantive_words=3).severity == "substantive"
    assert analyse(old, new, substantive_share=0.01).severity == "substantive"


def test_signals_are_sorted_most_severe_first_and_headline() -> None:
    analysis = one(
        ("Version 1.0", "We must test models. Tests take 3 days."),
        ("Version 1.1", "We should test models. Tests take some days."),
    )
    ranks = [SEVERITIES.index(KIND_SEVERITY[s.kind]) for s in analysis.signals]
    assert ranks == sorted(ranks, reverse=True)
    assert analysis.headline() == (
        "major: commitment weakened, quantitative threshold removed (+1 more)"
    )


def test_rewritten_document_is_bounded() -> None:
    old = "\n".join(f"We will review item {i} every {i % 9 + 2} months." for i in range(3000))
    new = "\n".join(f"Staff may audit part {i} within {i % 7 + 2} days." for i in range(3000))
    analysis = analyse(old, new)
    assert analysis.severity == "major"
    assert "large_rewrite" in kinds(analysis)
    assert len(analysis.signals) <= MAX_SIGNALS


def test_no_silent_cap_the_signals_left_out_are_counted() -> None:
    # More firm sentences deleted than the limit keeps: the rest is counted.
    old_body = tuple(f"We will audit supplier number {i} before launch." for i in range(620))
    old, new = doc(SECTION, *old_body), doc(SECTION, "We audit suppliers.")
    analysis = analyse(old, new, large_rewrite_share=1.0)
    found = len(analysis.signals) + analysis.truncated
    assert len(analysis.signals) == MAX_SIGNALS
    assert analysis.truncated == found - MAX_SIGNALS > 0
    assert analysis.headline() == f"major: commitment weakened (+{analysis.truncated} more)"
    # below the limit nothing is left out
    small = one(("We will test models.",), ("We may test models.",))
    assert small.truncated == 0


def test_signal_to_json() -> None:
    signal = Signal(
        "quantitative_removed", "A › B", "50% of tasks", None, "'50%' removed", ((0, 3),)
    )
    data = signal_to_json(signal)
    assert data == {
        "kind": "quantitative_removed",
        "section": "A › B",
        "page": None,
        "old": "50% of tasks",
        "new": None,
        "detail": "'50%' removed",
        "old_marks": [[0, 3]],
        "new_marks": [],
        "direction": None,
    }
    assert json.loads(json.dumps(data)) == data
    # what alerts and tasks store comes back as the same signal
    assert Signal(**json.loads(json.dumps(data))) == signal
    # before the first heading, the section is null
    top = signal_to_json(Signal("large_rewrite", "", None, None, "90% of the text changed"))
    assert top["section"] is None
    assert Signal(**top).section == ""


def test_every_kind_has_a_label_and_a_severity() -> None:
    assert set(KIND_SEVERITY) == set(SIGNAL_LABELS)
    assert set(KIND_SEVERITY.values()) <= set(SEVERITIES)
    assert PREAMBLE  # the corpus documents share a preamble


# --------------------------------------------------------------------------- aligned evidence


def test_mixed_edit_keeps_the_weakening_and_is_no_large_rewrite() -> None:
    # A few lines edited and a paragraph added after them that happens to say
    # 'annually' about another matter: the review cycle that went vague stays a signal.
    old = doc(
        SECTION,
        "The board reviews this policy annually.",
        "Access to model weights is limited to approved staff.",
        "Red-team results are shared with the safety council.",
    )
    new = doc(
        SECTION,
        "The board reviews this policy periodically.",
        "Access to model weights is limited to approved security staff.",
        "Red-team results are shared with the safety council and the board.",
        "Staff complete security training annually, and each session covers phishing, "
        "insider threats and the reporting of incidents.",
    )
    analysis = analyse(old, new, change=diff(old, new))
    assert "large_rewrite" not in kinds(analysis)
    removed = [s for s in analysis.signals if s.kind == "quantitative_removed"]
    assert [s.detail for s in removed] == ["'annually' removed"]
    (signal,) = removed
    assert signal.old == "The board reviews this policy annually."
    assert signal.new == "The board reviews this policy periodically."
    assert [signal.old[a:b] for a, b in signal.old_marks] == ["annually"]
    assert [signal.new[a:b] for a, b in signal.new_marks] == ["periodically"]


def test_commitment_after_a_run_in_heading_is_its_own_sentence() -> None:
    # PDF text: the run-in heading starts a line glued to a paragraph without a full stop.
    old = doc(
        SECTION,
        "We run quarterly audits of every system that stores model weights and we log them",
        "External access: We will also require two-party approval for any external access.",
    )
    new = doc(
        SECTION,
        "We run quarterly audits of every system that stores model weights and we log them",
    )
    analysis = analyse(old, new)
    weakened = [s for s in analysis.signals if s.kind == "commitment_weakened"]
    assert weakened, analysis.signals
    assert weakened[0].old == "We will also require two-party approval for any external access."
    assert weakened[0].new is None


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "We audit. External access: We will restrict it.",
            ["We audit.", "External access:", "We will restrict it."],
        ),
        (
            "Controls, e.g. logging, apply. See i.e. the annex. The U.S. Government agrees.",
            [
                "Controls, e.g. logging, apply.",
                "See i.e. the annex.",
                "The U.S. Government agrees.",
            ],
        ),
        (
            "1. Scope. 2. Thresholds apply. (a) We will test. (b) We publish.",
            ["1. Scope.", "2. Thresholds apply.", "(a) We will test.", "(b) We publish."],
        ),
        (
            "The steps are as follows: We test models.",
            ["The steps are as follows: We test models."],
        ),
        ("Last updated: March 3, 2025.", ["Last updated: March 3, 2025."]),
        ("Results from 2025. We publish them.", ["Results from 2025.", "We publish them."]),
    ],
)
def test_sentence_splitting(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_list_item_is_not_glued_to_the_paragraph_before_it() -> None:
    old = doc(SECTION, "The safeguards we apply to every model include", "- access logging")
    new = doc(SECTION, "The safeguards we apply to every model include")
    analysis = analyse(old, new)
    # the deleted item is evidence on its own, not a change inside the paragraph
    assert all(s.old in (None, "access logging") for s in analysis.signals), analysis.signals


def test_long_sentence_changed_at_its_end_is_quoted_around_the_change() -> None:
    head = (
        "Before any frontier model is deployed externally, the responsible scaling officer, "
        "together with the security team, the alignment team and an external reviewer chosen "
        "by the board, evaluates its dangerous capabilities against every threshold in this "
        "policy, documents the results in a written report, and "
    )
    old = doc(SECTION, head + "we will pause deployment if any threshold is crossed.")
    new = doc(SECTION, head + "we may pause deployment if any threshold is crossed.")
    analysis = analyse(old, new)
    signal = next(s for s in analysis.signals if s.kind == "commitment_weakened")
    assert signal.old is not None and signal.new is not None
    assert signal.old.startswith("…") and signal.new.startswith("…")
    assert len(signal.old) <= 302
    assert [signal.old[a:b] for a, b in signal.old_marks] == ["will"]
    assert [signal.new[a:b] for a, b in signal.new_marks] == ["may"]
    assert signal.new.endswith("we may pause deployment if any threshold is crossed.")


def test_clause_appended_is_marked_as_an_insertion() -> None:
    old = doc(SECTION, "We will pause deployment when a threshold is crossed.")
    new = doc(
        SECTION,
        "We will pause deployment when a threshold is crossed, unless the board approves "
        "a written exception.",
    )
    analysis = analyse(old, new)
    signal = next(s for s in analysis.signals if s.old is not None and s.new is not None)
    assert signal.old_marks == () or [signal.old[a:b] for a, b in signal.old_marks] == ["."]
    marked = [signal.new[a:b] for a, b in signal.new_marks]
    assert marked == [", unless the board approves a written exception"]


def test_marked_evidence_in_every_view_is_escaped() -> None:
    from watcher.notify.render import signal_line

    signal = Signal(
        "commitment_weakened",
        "A › B",
        "We <b>will</b> pause & stop.",
        "We <b>may</b> pause & stop.",
        "'will' → 'may'",
        ((6, 10),),
        ((6, 9),),
    )
    text = signal_line(signal)
    assert "“We <b>[-will-]</b> pause & stop.”" in text
    assert "{+may+}" in text
    slack = signal_line(signal, "slack")
    assert "We &lt;b&gt;~will~&lt;/b&gt; pause &amp; stop." in slack
    assert "*may*" in slack and "<b>" not in slack
    html = signal_line(signal, "html")
    assert "&lt;b&gt;<del" in html and ">will</del>&lt;/b&gt;" in html
    assert ">may</ins>" in html and "<b>" not in html


def test_signals_give_the_page_of_their_passage() -> None:
    old = "# Policy\nIntro.\n## Thresholds\nWe commit to audits every year.\nWe will pause at 10^26 FLOP."
    old_pages = (1, 1, 2, 2, 3)
    edited = old.replace("We commit to audits", "We aim to hold audits")
    new_pages = (1, 1, 1, 2, 2)  # re-paginated as well
    [weakened] = [
        s
        for s in analyse(old, edited, old_pages=old_pages, new_pages=new_pages).signals
        if s.kind == "commitment_weakened"
    ]
    assert (weakened.section, weakened.page) == ("Policy › Thresholds", 2)  # the new passage's
    deleted = old.replace("\nWe will pause at 10^26 FLOP.", "")
    signals = analyse(old, deleted, old_pages=old_pages, new_pages=new_pages[:4]).signals
    assert {s.kind for s in signals} >= {"quantitative_removed", "commitment_weakened"}
    assert {s.page for s in signals} == {3}  # a deletion: the old passage's page
    assert {s.page for s in analyse(old, edited).signals} == {None}  # HTML: no pages


# --------------------------------------------------------------------------- the issue's examples


@pytest.mark.parametrize(
    ("old", "new", "kind", "direction"),
    [
        # a bound dropped is looser; numbers in words are read as what they say
        (
            "Models trained with more than 10^26 FLOP are evaluated.",
            "Models are evaluated.",
            "quantitative_removed",
            "looser",
        ),
        (
            "We review the policy at least every six months.",
            "We review the policy at least every twelve months.",
            "quantitative_changed",
            "looser",
        ),
        (
            "A harm of more than two hundred casualties is severe.",
            "A harm of more than one thousand casualties is severe.",
            "quantitative_changed",
            "looser",
        ),
        (
            "At least 5 experts red-team each model.",
            "At least 8 experts red-team each model.",
            "quantitative_changed",
            "stricter",
        ),
        (
            "We will not deploy such a model.",
            "We will not deploy such a model unless we have strong evidence that it is safe.",
            "exception_added",
            None,
        ),
        (
            "Additional safeguards are required for these models.",
            "Additional safeguards are not required for these models.",
            "commitment_weakened",
            None,
        ),
        (
            "The policy will be updated at least yearly.",
            "The policy will be reviewed at least yearly.",
            "commitment_weakened",
            None,
        ),
        (
            "Access is restricted to a named team of researchers.",
            "Access follows appropriate access controls.",
            "content_removed",
            None,
        ),
        (
            "| High risk | Do not deploy |",
            "| High risk | Conduct an impact assessment |",
            "content_removed",
            None,
        ),
    ],
)
def test_issue_examples(old: str, new: str, kind: str, direction: str | None) -> None:
    analysis = one((old,), (new,))
    found = [s for s in analysis.signals if s.kind == kind]
    assert found, analysis
    assert found[0].direction == direction
    assert analysis.severity == ("substantive" if direction == "stricter" else "major")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # numbers that are not quantities: footnote, list, statute numbers, model names
        ("Results for Model 4.1 are in the report.", "Results for Model 4.5 are in the report."),
        ("We consulted 3 experts on this.", "We consulted 4 experts on this."),
        # a prediction is not a promise
        (
            "We believe these systems will create value.",
            "We believe these systems will create enormous value.",
        ),
        # formatting: a footnote digit that lost its space, typographic punctuation, a doubled run
        ("3 Bench results are summarised.", "3Bench results are summarised."),
        ("We test “frontier” models – always.", 'We test "frontier" models - always.'),
        ("We publish a report.", "We publish a report. We publish a report."),
        (
            "Decisions are escalated to the capa- bility board.",
            "Decisions are escalated to the capability board.",
        ),
    ],
)
def test_decoys_raise_nothing(old: str, new: str) -> None:
    assert one((old,), (new,)).signals == ()


def test_numbers_pair_only_within_aligned_sentences() -> None:
    analysis = one(
        (
            "Models trained with more than 10^26 FLOP are evaluated before release.",
            "Reports are published within 30 days.",
        ),
        (
            "Models are evaluated before release.",
            "Reports are published within 30 days.",
            "Our largest run so far used 10^24 FLOP of compute for pretraining experiments.",
        ),
    )
    assert "quantitative_changed" not in kinds(analysis)
    removed = next(s for s in analysis.signals if s.kind == "quantitative_removed")
    assert removed.direction == "looser" and "10^26" in (removed.old or "")


def test_additions_only_are_not_major() -> None:
    analysis = one(
        ("We evaluate models before deployment.",),
        (
            "We evaluate models before deployment.",
            "We will also publish a summary of each evaluation within 30 days.",
            "This policy applies to models released through our API.",
        ),
    )
    assert analysis.severity == "substantive", analysis


def test_top_changes_name_the_most_material_in_a_sentence_each() -> None:
    analysis = one(
        ("We must test models.", "Tests take 3 days.", "We publish results."),
        ("We should test models.", "Tests take some days.", "We publish results unless unsafe."),
    )
    sentences = top_changes(analysis)
    assert sentences.startswith("Commitment weakened in 3. Security: 'must' → 'should'.")
    assert sentences.count(" in 3. Security: ") == 3 and "Exception added" in sentences
    assert top_changes(one(("Same.",), ("Same.",))) == ""


def test_long_documents_meet_the_targets() -> None:
    from bench.analysis_quality import documents_table

    table, figures = documents_table()
    assert figures["recall"] >= 0.9, table
    assert figures["noise_share"] <= 0.2, table
    assert figures["direction"] >= 0.95, table
    assert figures["severity"] == 1.0 and figures["formatting_quiet"] == 1.0, table


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 10–20% success rate", [("percent/low", 10.0), ("percent/high", 20.0)]),
        ("10 to 20 percent of tasks", [("percent/low", 10.0), ("percent/high", 20.0)]),
        ("between 5 and 10 days", [("duration/low", 5.0), ("duration/high", 10.0)]),
        ("every 6 to 12 months", [("duration/low", 182.625), ("duration/high", 365.25)]),
        ("at most 3-5 reviewers", [("number/low", 3.0), ("number/high", 5.0)]),
        # not ranges: unbounded bare numbers, years, page spans, 'and' without 'between'
        ("We consulted 3-5 experts", []),
        ("from 2023 to 2025", []),
        ("see pages 4-10", []),
        ("5 and 10 reviewers", []),
    ],
)
def test_ranges_are_one_quantity_with_both_bounds(
    text: str, expected: list[tuple[str, float]]
) -> None:
    assert [q.key for q in quantities(text)] == expected


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        # the upper bound of a trigger raised: fewer models trigger it
        (
            "A 10–20% success rate on the tasks triggers review.",
            "A 10–30% success rate on the tasks triggers review.",
            "looser",
        ),
        # the lower bound of a deadline lowered: stricter
        ("We respond within 5 to 10 days.", "We respond within 3 to 10 days.", "stricter"),
        # a range with no role: changed, direction unknown
        (
            "Between 5 and 10 days of testing are spent on each model.",
            "Between 3 and 10 days of testing are spent on each model.",
            None,
        ),
    ],
)
def test_a_bound_of_a_range_changed(old: str, new: str, direction: str | None) -> None:
    analysis = one((old,), (new,))
    changed = [s for s in analysis.signals if s.kind == "quantitative_changed"]
    assert len(changed) == 1, analysis
    assert changed[0].direction == direction
    assert analysis.severity == ("substantive" if direction == "stricter" else "major")


def test_a_range_in_an_unrelated_sentence_is_not_paired() -> None:
    analysis = one(
        ("Reports are published within 30 days.", "We sampled 10 to 20 percent of the logs."),
        (
            "Reports are published within 30 days.",
            "We sampled 10 to 20 percent of the logs.",
            "Our staff grew by 10 to 25 percent this year.",
        ),
    )
    assert "quantitative_changed" not in kinds(analysis)
    assert "quantitative_removed" not in kinds(analysis)


# --------------------------------------------------------------------------- ordinals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("every 2nd quarter", [("duration", 182.625)]),
        ("each third year", [("duration", 1095.75)]),
        ("after the third failed evaluation", [("ordinal", 3.0)]),
        ("by the 5th business day", [("ordinal", 5.0)]),
        # ordinals that only number things
        ("the first section describes our approach", []),
        ("the third review is external", []),
        ("audited by the third-party firm", []),
        ("as set out on the second page", []),
    ],
)
def test_ordinals_are_quantities_only_as_cadence_or_threshold(
    text: str, expected: list[tuple[str, float]]
) -> None:
    assert [(q.kind, q.value) for q in quantities(text)] == expected


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        (
            "We review the policy every 2nd quarter.",
            "We review the policy every 4th quarter.",
            "looser",
        ),
        (
            "We will pause training after the third failed evaluation.",
            "We will pause training after the second failed evaluation.",
            "stricter",
        ),
    ],
)
def test_an_ordinal_cadence_or_threshold_changed(old: str, new: str, direction: str) -> None:
    changed = [s for s in one((old,), (new,)).signals if s.kind == "quantitative_changed"]
    assert [s.direction for s in changed] == [direction]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("The first section describes our approach.", "The second section describes our approach."),
        ("We review the policy every second year.", "We review the policy every other year."),
    ],
)
def test_ordinals_that_number_things_or_say_the_same_raise_nothing(old: str, new: str) -> None:
    assert one((old,), (new,)).signals == ()


# --------------------------------------------------------------------------- scope direction


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        # narrowing: fewer models or uses covered
        (
            "This policy applies to all frontier models.",
            "This policy applies to models above a compute threshold.",
            "looser",
        ),
        (
            "The policy applies to all deployments.",
            "The policy applies to external deployments.",
            "looser",
        ),
        ("This policy covers models.", "This policy covers frontier models.", "looser"),
        (
            "This policy covers internal and external deployments.",
            "This policy covers external deployments.",
            "looser",
        ),
        (
            "This policy covers our models.",
            "This policy covers only our released models.",
            "looser",
        ),
        # widening: more covered
        (
            "The policy applies to external deployments.",
            "The policy applies to all deployments.",
            "stricter",
        ),
        (
            "This policy covers models released through our API.",
            "This policy covers models released through our API or our apps.",
            "stricter",
        ),
        # undecided: an exclusion inverts the reading; words swapped with no sign
        (
            "This policy excludes research prototypes.",
            "This policy excludes prototypes.",
            None,
        ),
        ("This policy covers hosted models.", "This policy covers licensed models.", None),
    ],
)
def test_scope_narrowing_is_major_and_widening_substantive(
    old: str, new: str, direction: str | None
) -> None:
    analysis = one((old,), (new,))
    scope = [s for s in analysis.signals if s.kind == "scope_changed"]
    assert len(scope) == 1, analysis
    assert scope[0].direction == direction
    assert analysis.severity == ("substantive" if direction == "stricter" else "major")


def test_a_widened_trigger_condition_is_left_undecided() -> None:
    # 'if … will' sentences are scope too, but a narrower condition can be
    # looser or stricter; no direction is claimed
    analysis = one(
        ("If a model crosses the threshold, we will not deploy it.",),
        ("If a model clearly crosses the threshold, we will not deploy it.",),
    )
    scope = next(s for s in analysis.signals if s.kind == "scope_changed")
    assert scope.direction is None and analysis.severity == "major"


# --------------------------------------------------------------------------- verb ladders


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a stop replaced by a look, whatever the verbs of each family
        (
            "We will halt training if the threshold is crossed.",
            "We will review training if the threshold is crossed.",
            "weakened",
        ),
        (
            "Deployment will be paused until it is safe.",
            "Deployment will be assessed until it is safe.",
            "weakened",
        ),
        (
            "We will stop development of such a model.",
            "We will consider development of such a model.",
            "weakened",
        ),
        ("We must suspend access.", "We must evaluate access.", "weakened"),
        ("We will review the results.", "We will halt on the results.", "strengthened"),
        # verbs of one rung are equal
        ("We will review the results.", "We will assess the results.", None),
        ("We will pause training.", "We will halt training.", None),
    ],
)
def test_stop_verbs_outrank_review_verbs(old: str, new: str, expected: str | None) -> None:
    assert commitment_change(old, new) == expected
