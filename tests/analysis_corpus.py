"""A labelled corpus of policy version pairs for measuring watcher.analysis.

Each case is a realistic passage of a frontier safety policy, embedded in an
unchanged preamble and appendix (so that the analysis sees a change inside a
document, not two isolated sentences), with the signal kinds a rater expects
and the severity. About half the cases are noise or cosmetic edits (typos,
punctuation, reflow, reordering, moved sections, equivalent numbers) that must
raise no signal, so that false alarms are measured too.

Labels were written from the definitions in issue 5, before the analysis was
tuned, and follow these conventions:
- a kind is expected when at least one signal of that kind should be raised;
- a deleted sentence of firm commitment is `commitment_weakened`, an added one
  `commitment_strengthened`;
- dates are quantities only as deadlines ('by May 2026'); an effective or
  'last updated' date is `effective_date_changed`; a lone year is nothing.

Used by tests/test_analysis.py and bench/analysis_quality.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.models import Link

PREAMBLE = (
    "# Frontier Safety Policy",
    "This document describes how we identify, evaluate and mitigate severe risks "
    "from the frontier AI models we develop.",
    "## 1. Purpose",
    "Our goal is to keep the risks of our models at acceptable levels as their "
    "capabilities increase. We update this policy as our understanding improves.",
)

APPENDIX = (
    "## Appendix A. Definitions",
    "- Capability threshold: a level of capability at which a model requires stronger safeguards.",
    "- Safeguards: technical and organisational measures that reduce risk.",
    "- Responsible Scaling Officer: the staff member accountable for this policy.",
)


def doc(*lines: str) -> str:
    """A whole document: the preamble, `lines`, the appendix."""
    return "\n".join((*PREAMBLE, *lines, *APPENDIX))


@dataclass(frozen=True)
class Case:
    name: str
    old: str
    new: str
    kinds: frozenset[str]
    severity: str
    noise: bool = False  # a cosmetic or equivalent edit (false-alarm check)
    watch_terms: tuple[str, ...] = ()
    new_documents: tuple[Link, ...] = field(default=())


def case(
    name: str,
    old: str,
    new: str,
    kinds: tuple[str, ...],
    severity: str,
    *,
    noise: bool = False,
    watch_terms: tuple[str, ...] = (),
    new_documents: tuple[Link, ...] = (),
) -> Case:
    return Case(name, old, new, frozenset(kinds), severity, noise, watch_terms, new_documents)


THRESHOLDS = "## 2. Capability thresholds"
SECURITY = "## 3. Security safeguards"
GOVERNANCE = "## 4. Governance"
EVALUATIONS = "## 5. Evaluations"
SCOPE = "## 6. Scope"

SIGNAL_CASES: tuple[Case, ...] = (
    # --- the seed (SaferAI, October 2024) --------------------------------
    case(
        "seed: numeric threshold replaced by a qualitative description",
        doc(
            THRESHOLDS,
            "### ASL-3",
            "Autonomous replication: The model shows early signs of autonomous "
            "self-replication ability, as defined by a 50% aggregate success rate on the "
            "tasks listed in [Appendix on Autonomy Evaluations].",
        ),
        doc(
            THRESHOLDS,
            "### ASL-3",
            "Autonomous AI research: The ability to either fully automate the work of an "
            "entry-level remote-only researcher, or cause dramatic acceleration in the rate "
            "of effective scaling.",
        ),
        ("quantitative_removed",),
        "major",
    ),
    case(
        "seed: 'we commit to' turned into 'we expect'",
        doc(
            SECURITY,
            "We commit to the following security themes [...] mandatory external reviews "
            "should embed security within regular operations and harden processes during "
            "organizational changes.",
        ),
        doc(
            SECURITY,
            "We expect this to include independent validation [...] of our security controls.",
        ),
        ("commitment_weakened",),
        "major",
    ),
    # --- commitments -----------------------------------------------------
    case(
        "'must' turned into 'should'",
        doc(
            EVALUATIONS,
            "Every model must be evaluated against the capability thresholds before it is "
            "deployed. The results are recorded in a capability report.",
        ),
        doc(
            EVALUATIONS,
            "Every model should be evaluated against the capability thresholds before it is "
            "deployed. The results are recorded in a capability report.",
        ),
        ("commitment_weakened",),
        "major",
    ),
    case(
        "'will publish within 30 days' turned into 'aim to publish'",
        doc(
            GOVERNANCE,
            "We will publish a summary of each capability report within 30 days of a "
            "deployment decision.",
        ),
        doc(
            GOVERNANCE,
            "We aim to publish a summary of each capability report after a deployment decision.",
        ),
        ("commitment_weakened", "quantitative_removed"),
        "major",
    ),
    case(
        "'where appropriate' added",
        doc(
            GOVERNANCE,
            "We will share evaluation results with government AI safety institutes before "
            "deployment.",
        ),
        doc(
            GOVERNANCE,
            "We will share evaluation results with government AI safety institutes before "
            "deployment, where appropriate.",
        ),
        ("commitment_weakened", "exception_added"),
        "major",
    ),
    case(
        "firm sentence deleted, with a watched term",
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy. The Board will review "
            "every capability report. Staff may raise concerns with the Responsible Scaling "
            "Officer.",
        ),
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy. Staff may raise concerns "
            "with the Responsible Scaling Officer.",
        ),
        ("commitment_weakened", "term_changed"),
        "major",
        watch_terms=("board",),
    ),
    case(
        "'may pause' turned into 'will pause'",
        doc(
            THRESHOLDS,
            "We may pause training if a model crosses a capability threshold before the "
            "required safeguards are ready.",
        ),
        doc(
            THRESHOLDS,
            "We will pause training if a model crosses a capability threshold before the "
            "required safeguards are ready.",
        ),
        ("commitment_strengthened",),
        "substantive",
    ),
    case(
        "'should include' turned into 'must include'",
        doc(EVALUATIONS, "Red-teaming exercises should include external domain experts."),
        doc(EVALUATIONS, "Red-teaming exercises must include external domain experts."),
        ("commitment_strengthened",),
        "substantive",
    ),
    case(
        "new firm sentence with a deadline",
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy and reports to the Board.",
        ),
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy and reports to the Board. "
            "We will notify the Long-Term Benefit Trust of any threshold crossing within "
            "14 days.",
        ),
        ("commitment_strengthened", "quantitative_added"),
        "substantive",
    ),
    case(
        "'where feasible' removed",
        doc(
            EVALUATIONS,
            "We will, where feasible, run the full evaluation suite on the final model checkpoint.",
        ),
        doc(EVALUATIONS, "We will run the full evaluation suite on the final model checkpoint."),
        ("commitment_strengthened",),
        "substantive",
    ),
    case(
        "firm list item deleted",
        doc(
            SECURITY,
            "Our security programme has three parts:",
            "- Access to model weights requires two-party authorisation.",
            "- Security controls must be reviewed by an independent auditor.",
            "- Egress from training clusters is monitored.",
        ),
        doc(
            SECURITY,
            "Our security programme has three parts:",
            "- Access to model weights requires two-party authorisation.",
            "- Egress from training clusters is monitored.",
        ),
        ("commitment_weakened",),
        "major",
    ),
    case(
        "'must undergo external review' turned into 'should undergo internal review'",
        doc(
            SECURITY,
            "Our safeguards must undergo external review before any deployment above ASL-2.",
        ),
        doc(
            SECURITY,
            "Our safeguards should undergo internal review before any deployment above ASL-2.",
        ),
        ("commitment_weakened", "term_changed"),
        "major",
        watch_terms=("external review",),
    ),
    # --- quantities ------------------------------------------------------
    case(
        "percentage threshold lowered",
        doc(
            THRESHOLDS,
            "A model reaches the cyber threshold when it solves more than 80% of the "
            "capture-the-flag challenges in our professional tier.",
        ),
        doc(
            THRESHOLDS,
            "A model reaches the cyber threshold when it solves more than 60% of the "
            "capture-the-flag challenges in our professional tier.",
        ),
        ("quantitative_changed",),
        "substantive",  # a capability threshold lowered: stricter
    ),
    case(
        "training compute threshold changed",
        doc(
            THRESHOLDS,
            "Models trained with more than 10^26 FLOP are evaluated at every major checkpoint.",
        ),
        doc(
            THRESHOLDS,
            "Models trained with more than 10^25 FLOP are evaluated at every major checkpoint.",
        ),
        ("quantitative_changed",),
        "substantive",  # a capability threshold lowered: stricter
    ),
    case(
        "review cycle lengthened",
        doc(GOVERNANCE, "We review and, if needed, revise this policy every 6 months."),
        doc(GOVERNANCE, "We review and, if needed, revise this policy every 12 months."),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "'annually' dropped",
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer reports to the Board annually on our compliance "
            "with this policy.",
        ),
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer reports to the Board on our compliance with this "
            "policy.",
        ),
        ("quantitative_removed",),
        "major",
    ),
    case(
        "count of evaluations added",
        doc(EVALUATIONS, "Models are tested against a suite of biology evaluations."),
        doc(EVALUATIONS, "Models are tested against a suite of at least 12 biology evaluations."),
        ("quantitative_added",),
        "substantive",
    ),
    case(
        "number of reviewers reduced (in words)",
        doc(
            GOVERNANCE,
            "At least two independent reviewers sign off on each safeguards report.",
        ),
        doc(
            GOVERNANCE,
            "At least one independent reviewer signs off on each safeguards report.",
        ),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "multiplier changed",
        doc(
            THRESHOLDS,
            "AI R&D-5: the ability to cause an increase of approximately 1000x in effective "
            "compute within a year.",
        ),
        doc(
            THRESHOLDS,
            "AI R&D-5: the ability to cause an increase of approximately 100x in effective "
            "compute within a year.",
        ),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "checkpoint count turned into words",
        doc(EVALUATIONS, "We evaluate at least 5 checkpoints during each training run."),
        doc(EVALUATIONS, "We evaluate several checkpoints during each training run."),
        ("quantitative_removed",),
        "major",
    ),
    case(
        "incident reporting deadline extended",
        doc(
            SECURITY,
            "Security incidents that affect model weights are reported to the Board within "
            "72 hours.",
        ),
        doc(
            SECURITY,
            "Security incidents that affect model weights are reported to the Board within 7 days.",
        ),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "deadline date moved",
        doc(
            SECURITY,
            "We will complete the migration to hardware security modules by March 2025.",
        ),
        doc(
            SECURITY,
            "We will complete the migration to hardware security modules by December 2025.",
        ),
        ("quantitative_changed",),
        "major",
    ),
    # --- watch terms -----------------------------------------------------
    case(
        "third-party audit dropped",
        doc(SECURITY, "Our safeguards are audited by a third-party firm every year."),
        doc(SECURITY, "Our safeguards are audited every year."),
        ("term_changed",),
        "major",
        watch_terms=("third-party", "whistleblower"),
    ),
    case(
        "whistleblower channel added",
        doc(
            GOVERNANCE,
            "Staff can raise concerns about this policy with the Responsible Scaling Officer.",
        ),
        doc(
            GOVERNANCE,
            "Staff can raise concerns about this policy with the Responsible Scaling Officer. "
            "An anonymous whistleblower channel is also available.",
        ),
        ("term_changed",),
        "substantive",
        watch_terms=("third-party", "whistleblower"),
    ),
    # --- scope -----------------------------------------------------------
    case(
        "scope qualifier dropped",
        doc(
            SCOPE,
            "This policy applies to our most advanced models that match or exceed the "
            "capabilities of our previous frontier model.",
        ),
        doc(
            SCOPE,
            "This policy applies to our models that exceed the capabilities of our previous "
            "frontier model.",
        ),
        ("scope_changed",),
        "major",
    ),
    case(
        "trigger condition qualified",
        doc(
            THRESHOLDS,
            "If a model crosses the ASL-3 capability threshold, we will not deploy it until "
            "the ASL-3 safeguards are in place.",
        ),
        doc(
            THRESHOLDS,
            "If a model clearly and substantially crosses the ASL-3 capability threshold, we "
            "will not deploy it until the ASL-3 safeguards are in place.",
        ),
        ("scope_changed",),
        "major",
    ),
    case(
        "coverage sentence deleted",
        doc(
            SCOPE,
            "This policy governs the training and deployment of our frontier models. These "
            "obligations also cover models deployed only internally.",
        ),
        doc(
            SCOPE,
            "This policy governs the training and deployment of our frontier models.",
        ),
        ("scope_changed",),
        "major",
    ),
    case(
        "coverage extended to fine-tuned models",
        doc(SCOPE, "This policy covers models trained with more than 10^26 FLOP."),
        doc(
            SCOPE,
            "This policy covers models trained with more than 10^26 FLOP and models "
            "fine-tuned from them.",
        ),
        ("scope_changed",),
        # covering more models strengthens the policy: widening is substantive
        "substantive",
    ),
    # --- sections --------------------------------------------------------
    case(
        "section added",
        doc(GOVERNANCE, "The Responsible Scaling Officer maintains this policy."),
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
            "## 5. Whistleblower protections",
            "Employees can raise concerns anonymously, and retaliation against them is prohibited.",
        ),
        ("section_added",),
        "substantive",
    ),
    case(
        "section removed",
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
            "## 5. External review",
            "An external expert panel reviews our compliance with this policy and publishes "
            "its findings.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        ("section_removed",),
        "major",
    ),
    case(
        "section removed with its commitments",
        doc(
            SECURITY,
            "Weights are stored in a dedicated, monitored environment.",
            "### 3.2 Incident reporting",
            "We will report security incidents to the relevant authorities within 72 hours.",
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
        ),
        doc(
            SECURITY,
            "Weights are stored in a dedicated, monitored environment.",
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
        ),
        ("section_removed", "commitment_weakened", "quantitative_removed"),
        "major",
    ),
    case(
        "section renamed",
        doc(
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy and reports to the Board.",
            EVALUATIONS,
            "Each model is tested before deployment.",
        ),
        doc(
            "## 4. Internal oversight",
            "The Responsible Scaling Officer maintains this policy and reports to the Board.",
            EVALUATIONS,
            "Each model is tested before deployment.",
        ),
        ("section_renamed",),
        "substantive",
    ),
    case(
        "moved section with a changed number",
        doc(
            EVALUATIONS,
            "We run dangerous-capability evaluations on every model.",
            GOVERNANCE,
            "The Board reviews this policy every 6 months.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        doc(
            GOVERNANCE,
            "The Board reviews this policy every 12 months.",
            EVALUATIONS,
            "We run dangerous-capability evaluations on every model.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        ("quantitative_changed",),
        "major",
    ),
    # --- versions, dates, documents, rewrites ----------------------------
    case(
        "version and effective date bumped",
        doc(
            "Version 2.0",
            "Effective date: October 15, 2024",
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
        ),
        doc(
            "Version 2.1",
            "Effective date: March 31, 2025",
            GOVERNANCE,
            "The Responsible Scaling Officer maintains this policy.",
        ),
        ("version_label_changed", "effective_date_changed"),
        "substantive",
    ),
    case(
        "version in the title heading",
        "# Frontier Safety Framework v1.1\nWe identify critical capability levels.\n"
        + "\n".join(APPENDIX),
        "# Frontier Safety Framework v1.2\nWe identify critical capability levels.\n"
        + "\n".join(APPENDIX),
        ("version_label_changed",),
        "substantive",
    ),
    case(
        "version named in prose",
        doc(GOVERNANCE, "This is version 3 of the framework."),
        doc(GOVERNANCE, "This is version 4 of the framework."),
        ("version_label_changed",),
        "substantive",
    ),
    case(
        "new PDF linked from the landing page",
        "# Responsible Scaling Policy\nRead the current policy:\n"
        "- Responsible Scaling Policy (PDF)\n- Capability report: summary",
        "# Responsible Scaling Policy\nRead the current policy:\n"
        "- Responsible Scaling Policy update (PDF)\n- Responsible Scaling Policy (PDF)\n"
        "- Capability report: summary",
        ("new_document",),
        "substantive",
        new_documents=(
            Link("https://example.org/rsp-update.pdf", "Responsible Scaling Policy update (PDF)"),
        ),
    ),
    case(
        "whole passage rewritten",
        "## Overview\nOur approach rests on three pillars: identifying risks early, "
        "testing models thoroughly, and sharing what we learn with others in the field. "
        "The pillars shape how each team plans its work.",
        "## Overview\nThis framework sets out a structured process in which capability "
        "assessments feed directly into deployment decisions made by senior leadership. "
        "Leadership weighs benefits against residual risk.",
        ("large_rewrite",),
        "major",
    ),
)

NOISE_CASES: tuple[Case, ...] = (
    case(
        "typo fixed in a commitment",
        doc(SECURITY, "We comit to protecting model weights from theft by sophisticated actors."),
        doc(SECURITY, "We commit to protecting model weights from theft by sophisticated actors."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "typo fixed in a threshold",
        doc(THRESHOLDS, "The capabilty threshold for biology is described in Appendix A."),
        doc(THRESHOLDS, "The capability threshold for biology is described in Appendix A."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "punctuation: Oxford comma and semicolon",
        doc(
            SECURITY,
            "We protect weights, code and training data; access is logged and reviewed.",
        ),
        doc(
            SECURITY,
            "We protect weights, code, and training data. Access is logged and reviewed.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "reflow: one paragraph split over two lines",
        doc(
            EVALUATIONS,
            "We will evaluate every frontier model against each capability threshold before "
            "deployment and at least every 3 months afterwards.",
        ),
        doc(
            EVALUATIONS,
            "We will evaluate every frontier model against each capability threshold before",
            "deployment and at least every 3 months afterwards.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "list reordered",
        doc(
            SECURITY,
            "Our safeguards include:",
            "- Two-party control for access to model weights.",
            "- Egress bandwidth limits on training clusters.",
            "- Mandatory security training for all staff every 12 months.",
        ),
        doc(
            SECURITY,
            "Our safeguards include:",
            "- Mandatory security training for all staff every 12 months.",
            "- Two-party control for access to model weights.",
            "- Egress bandwidth limits on training clusters.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'will' turned into 'shall'",
        doc(GOVERNANCE, "The Responsible Scaling Officer will approve every deployment decision."),
        doc(GOVERNANCE, "The Responsible Scaling Officer shall approve every deployment decision."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'will not' turned into 'won't'",
        doc(THRESHOLDS, "We will not train models past a threshold without the safeguards."),
        doc(THRESHOLDS, "We won't train models past a threshold without the safeguards."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "sentence reworded, percentage kept",
        doc(
            THRESHOLDS,
            "The autonomy threshold is a 50% aggregate success rate on the tasks in Appendix B.",
        ),
        doc(
            THRESHOLDS,
            "The autonomy threshold is an aggregate success rate of 50% on the tasks in "
            "Appendix B.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'five' written as '5'",
        doc(EVALUATIONS, "Each evaluation is repeated five times with different prompts."),
        doc(EVALUATIONS, "Each evaluation is repeated 5 times with different prompts."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'every 12 months' written as 'every year'",
        doc(GOVERNANCE, "The Board reviews this policy every 12 months."),
        doc(GOVERNANCE, "The Board reviews this policy every year."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'percent' written as '%'",
        doc(
            THRESHOLDS, "A success rate above 50 percent on the expert tier crosses the threshold."
        ),
        doc(THRESHOLDS, "A success rate above 50% on the expert tier crosses the threshold."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "capitalisation of a heading and a term",
        doc(
            "## 2. Capability Thresholds",
            "Each AI safety level has its own required safeguards.",
        ),
        doc(
            "## 2. Capability thresholds",
            "Each AI Safety Level has its own required safeguards.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "two sections swapped",
        doc(
            SECURITY,
            "We commit to protecting model weights. Access requires two-party approval.",
            GOVERNANCE,
            "The Board must review this policy every 6 months.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        doc(
            GOVERNANCE,
            "The Board must review this policy every 6 months.",
            SECURITY,
            "We commit to protecting model weights. Access requires two-party approval.",
            SCOPE,
            "This policy covers all frontier models.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "heading numbering style changed",
        doc(
            "## 3 Security safeguards",
            "We protect model weights.",
            "## Section 4: Governance",
            "The Board oversees this policy.",
        ),
        doc(
            "## 3. Security safeguards",
            "We protect model weights.",
            "## 4. Governance",
            "The Board oversees this policy.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "copyright year in the footer",
        doc(GOVERNANCE, "The Board oversees this policy.", "© 2024 Example AI, Inc."),
        doc(GOVERNANCE, "The Board oversees this policy.", "© 2025 Example AI, Inc."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "typographic quotes and dashes",
        doc(
            SECURITY,
            "The company's security team - not the research teams - controls weight access.",
        ),
        doc(
            SECURITY,
            "The company’s security team — not the research teams — controls weight access.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "British spelling turned American",
        doc(
            GOVERNANCE,
            "The organisation will prioritise safety when it finalises deployment decisions.",
        ),
        doc(
            GOVERNANCE,
            "The organization will prioritize safety when it finalizes deployment decisions.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'e.g.' spelled out",
        doc(EVALUATIONS, "We test several domains, e.g. biology and cyber operations."),
        doc(EVALUATIONS, "We test several domains, for example biology and cyber operations."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "clause moved within a commitment",
        doc(EVALUATIONS, "Before deployment, every model must pass the full evaluation suite."),
        doc(EVALUATIONS, "Every model must pass the full evaluation suite before deployment."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'May' the month is not hedging",
        doc(GOVERNANCE, "The framework was published in May 2024 by the Board."),
        doc(GOVERNANCE, "The framework was first published in May 2024 by the Board."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'goodwill' is not 'will'",
        doc(GOVERNANCE, "We rely on the goodwill of partners to report misuse."),
        doc(GOVERNANCE, "We rely on the goodwill of our partners to report misuse."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'last updated' footer date only",
        doc(GOVERNANCE, "The Board oversees this policy.", "Last updated: 14 May 2025"),
        doc(GOVERNANCE, "The Board oversees this policy.", "Last updated: 2 June 2025"),
        ("effective_date_changed",),
        "minor",
        noise=True,
    ),
    case(
        "thousands separator and scientific notation",
        doc(
            THRESHOLDS,
            "A 1,000x increase in effective compute, or training above 10^26 FLOP, triggers a "
            "new assessment.",
        ),
        doc(
            THRESHOLDS,
            "A 1000x increase in effective compute, or training above 1e26 FLOP, triggers a "
            "new assessment.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "sentences swapped within a paragraph",
        doc(
            SECURITY,
            "We will restrict weight access to essential staff. Every access is logged for "
            "30 days.",
        ),
        doc(
            SECURITY,
            "Every access is logged for 30 days. We will restrict weight access to essential "
            "staff.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "hyphenation of a watched term",
        doc(SECURITY, "A third party audits our security controls."),
        doc(SECURITY, "A third-party firm audits our security controls."),
        (),
        "minor",
        noise=True,
        watch_terms=("third-party",),
    ),
    case(
        "typo fixed next to a watched term",
        doc(GOVERNANCE, "The Board recieves every capability report."),
        doc(GOVERNANCE, "The Board receives every capability report."),
        (),
        "minor",
        noise=True,
        watch_terms=("board",),
    ),
)

# A second batch, written after the first analysis run and before any tuning,
# to check that the measure does not merely reflect the first batch.
MORE_CASES: tuple[Case, ...] = (
    case(
        "review cadence turned qualitative",
        doc(EVALUATIONS, "We will conduct comprehensive evaluations at least every 3 months."),
        doc(EVALUATIONS, "We will conduct comprehensive evaluations regularly."),
        ("quantitative_removed",),
        "major",
    ),
    case(
        "approver dropped (an oversight role removed: policy content)",
        doc(
            GOVERNANCE,
            "Deployment requires sign-off from the Chief Executive Officer and the Responsible "
            "Scaling Officer.",
        ),
        doc(GOVERNANCE, "Deployment requires sign-off from the Responsible Scaling Officer."),
        ("content_removed",),
        "major",
    ),
    case(
        "'all' dropped from the scope",
        doc(SCOPE, "The policy applies to all models we deploy externally."),
        doc(SCOPE, "The policy applies to models we deploy externally."),
        ("scope_changed",),
        "major",
    ),
    case(
        "'shall ensure' turned into 'will try to ensure'",
        doc(SECURITY, "We shall ensure that model weights never leave our secure environment."),
        doc(
            SECURITY,
            "We will try to ensure that model weights never leave our secure environment.",
        ),
        ("commitment_weakened",),
        "major",
    ),
    case(
        "retention period added as a list item",
        doc(SECURITY, "Our controls:", "- Weights are encrypted at rest."),
        doc(
            SECURITY,
            "Our controls:",
            "- Weights are encrypted at rest.",
            "- Access logs are kept for 90 days.",
        ),
        ("quantitative_added",),
        "substantive",
    ),
    case(
        "new section with a commitment and a limit",
        doc(GOVERNANCE, "The Board oversees this policy."),
        doc(
            GOVERNANCE,
            "The Board oversees this policy.",
            "## 5. Model weight security",
            "We will limit access to model weights to fewer than 50 staff members.",
        ),
        ("section_added", "commitment_strengthened", "quantitative_added"),
        "substantive",
    ),
    case(
        "compute threshold raised, unit reworded",
        doc(THRESHOLDS, "Training runs above 10^26 FLOP trigger a full assessment."),
        doc(THRESHOLDS, "Training runs above 10^27 operations trigger a full assessment."),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "trust added to the governance sentence",
        doc(GOVERNANCE, "The Board is informed of each deployment decision."),
        doc(
            GOVERNANCE,
            "The Board and the Long-Term Benefit Trust are informed of each deployment decision.",
        ),
        ("term_changed",),
        "substantive",
        watch_terms=("Long-Term Benefit Trust",),
    ),
    case(
        "threshold changed in a table row",
        doc(
            THRESHOLDS,
            "| Level | Success rate | Domain |",
            "| ASL-3 | 50% | autonomy |",
            "| ASL-4 | 80% | autonomy |",
        ),
        doc(
            THRESHOLDS,
            "| Level | Success rate | Domain |",
            "| ASL-3 | 40% | autonomy |",
            "| ASL-4 | 80% | autonomy |",
        ),
        ("quantitative_changed",),
        "major",
    ),
    case(
        "date the policy takes effect moved",
        doc(GOVERNANCE, "This version takes effect on 1 January 2025."),
        doc(GOVERNANCE, "This version takes effect on 1 April 2025."),
        ("effective_date_changed",),
        "minor",
    ),
    case(
        "subsection renamed, body lightly edited",
        doc(
            SECURITY,
            "### 3.1 Insider risk",
            "Staff with weight access are vetted and their access is reviewed each quarter.",
            "Access is revoked within one day of a role change.",
        ),
        doc(
            SECURITY,
            "### 3.1 Personnel security",
            "Staff with weight access are vetted, and their access is reviewed each quarter.",
            "Access is revoked within one day of a role change.",
        ),
        ("section_renamed",),
        "substantive",
    ),
    case(
        "renamed heading loses a watched term",
        doc("### External review", "A panel reviews our compliance with this policy."),
        doc("### Compliance review", "A panel reviews our compliance with this policy."),
        ("section_renamed", "term_changed"),
        "major",
        watch_terms=("external review",),
    ),
    case(
        "'approximately' turned into 'roughly'",
        doc(THRESHOLDS, "An increase of approximately 1000x in effective compute is a threshold."),
        doc(THRESHOLDS, "An increase of roughly 1000x in effective compute is a threshold."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "condition moved to the front of the sentence",
        doc(
            THRESHOLDS,
            "We will not deploy a model that crosses a threshold unless the safeguards are in "
            "place.",
        ),
        doc(
            THRESHOLDS,
            "Unless the safeguards are in place, we will not deploy a model that crosses a "
            "threshold.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "acronym and its expansion swapped",
        doc(THRESHOLDS, "AI Safety Level 3 (ASL-3) requires hardened security."),
        doc(THRESHOLDS, "ASL-3 (AI Safety Level 3) requires hardened security."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "footnote marker removed",
        doc(GOVERNANCE, "We publish capability reports for every frontier model.[3]"),
        doc(GOVERNANCE, "We publish capability reports for every frontier model."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "page footer renumbered",
        doc(GOVERNANCE, "The Board oversees this policy.", "Page 4 of 40"),
        doc(GOVERNANCE, "The Board oversees this policy.", "Page 4 of 41"),
        (),
        "minor",
        noise=True,
    ),
    case(
        "typo fixed in a heading",
        doc("## 5. Evalutions", "Each model is tested before deployment."),
        doc("## 5. Evaluations", "Each model is tested before deployment."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "list numbering style changed",
        doc(EVALUATIONS, "1) Identify the risks.", "2) Evaluate the model."),
        doc(EVALUATIONS, "1. Identify the risks.", "2. Evaluate the model."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "paragraph split at a sentence boundary",
        doc(
            SECURITY,
            "We protect model weights with two-party control. Every access is logged and "
            "reviewed by the security team.",
        ),
        doc(
            SECURITY,
            "We protect model weights with two-party control.",
            "Every access is logged and reviewed by the security team.",
        ),
        (),
        "minor",
        noise=True,
    ),
    case(
        "abbreviation without dots",
        doc(GOVERNANCE, "We brief the U.S. AI Safety Institute before major releases."),
        doc(GOVERNANCE, "We brief the US AI Safety Institute before major releases."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "link text reworded",
        doc(GOVERNANCE, "Our capability reports are available here."),
        doc(GOVERNANCE, "Our capability reports are available in our transparency hub."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "bullet style changed",
        doc(SECURITY, "Controls:", "- Two-party access control.", "- Egress monitoring."),
        doc(SECURITY, "Controls:", "* Two-party access control.", "* Egress monitoring."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "cross-reference dropped",
        doc(THRESHOLDS, "The CBRN threshold is defined in detail (see Appendix A)."),
        doc(THRESHOLDS, "The CBRN threshold is defined in detail."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'72 hours' written as a '72-hour window'",
        doc(SECURITY, "Incidents are reported to the Board within 72 hours."),
        doc(SECURITY, "Incidents are reported to the Board within a 72-hour window."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "compound sentence split in two",
        doc(EVALUATIONS, "We test every model, and we publish a summary of the results."),
        doc(EVALUATIONS, "We test every model. We publish a summary of the results."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "contraction in a plain statement",
        doc(SECURITY, "We do not release the weights of frontier models."),
        doc(SECURITY, "We don't release the weights of frontier models."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "date format of the 'last updated' line",
        doc(GOVERNANCE, "The Board oversees this policy.", "Last updated: 2025-05-14"),
        doc(GOVERNANCE, "The Board oversees this policy.", "Last updated: May 14, 2025"),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'10 percent' spelled out",
        doc(THRESHOLDS, "An uplift of more than 10 percent over the baseline is a warning sign."),
        doc(THRESHOLDS, "An uplift of more than ten percent over the baseline is a warning sign."),
        (),
        "minor",
        noise=True,
    ),
    case(
        "'must' turned into 'are required to'",
        doc(EVALUATIONS, "Evaluators must document every elicitation technique they use."),
        doc(
            EVALUATIONS,
            "Evaluators are required to document every elicitation technique they use.",
        ),
        (),
        "minor",
        noise=True,
    ),
)

CASES: tuple[Case, ...] = SIGNAL_CASES + NOISE_CASES + MORE_CASES

#: The signal kinds of issue 5 points 1–6, held to the precision/recall bar.
GATED_KINDS: tuple[str, ...] = (
    "commitment_weakened",
    "commitment_strengthened",
    "quantitative_removed",
    "quantitative_added",
    "quantitative_changed",
    "term_changed",
    "scope_changed",
    "section_added",
    "section_removed",
    "section_renamed",
    "version_label_changed",
    "effective_date_changed",
)
