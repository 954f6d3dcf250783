"""Policy revisions with labelled citations, generated from a seed.

A policy of `sections` sections is written from varied sentence templates
(thresholds, evaluations, external review, governance, transparency,
security) with varied fillers; citations are taken from its sentences
(whole sentences or their clauses). The revision then does one thing to each
cited passage, and says what re-anchoring should find:

- `intact`: nothing (but the whole revision is re-wrapped, hyphenated across
  line breaks, set with typographic quotes and ligatures, as PDFs are);
- `moved`: the sentence goes to another section (`moved`);
- `little`: one or two words reworded (`changed`);
- `meaning`: a number, a modal verb or a negation changed (`changed`, never `intact`);
- `lot`: about half the words reworded in place (`changed`);
- `deleted`: the sentence removed (`gone`);
- `decoy`: removed, and a sentence of the same template with other words
  added to another section (`gone`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TEMPLATES = (
    "{org} will {act} a {kind} evaluation of every {model} at least {freq} before {event}.",
    "If a {model} reaches a {pct}% success rate on {domain} tasks, {org} must {act} the {safeguard}.",
    "The {body} reviews the {doc} {freq} and publishes a summary of its {output} within {days} days.",
    "{org} commits to share {output} with {partner} no later than {days} days after {event}.",
    "{partner} shall independently assess whether the {safeguard} remain adequate for {domain} risks.",
    "We will not {deploy} a {model} whose {domain} capability exceeds the {level} threshold without {safeguard}.",
    "Access to {asset} is limited to {count} named staff and every request is logged by the {body}.",
    "The {body} may pause {deploy_ing} of any {model} when {domain} evaluations show {signal}.",
    "Results of {kind} testing are reported to the {body} within {days} days and summarised for {partner}.",
    "{org} expects to update this {doc} when {event} or at least {freq}, whichever comes first.",
    "Staff who raise concerns about {domain} risks are protected by the {doc} and may contact the {body} directly.",
    "Before {event}, the {safeguard} must be tested against {count} {kind} scenarios chosen by {partner}.",
)

FILLERS: dict[str, tuple[str, ...]] = {
    "org": ("The company", "Our organisation", "The developer", "The lab", "Our team"),
    "act": ("run", "complete", "commission", "conduct", "perform", "carry out"),
    "kind": ("red-team", "capability", "alignment", "misuse", "autonomy", "dangerous-capability"),
    "model": (
        "frontier model",
        "new model",
        "model checkpoint",
        "released system",
        "model version",
    ),
    "freq": ("once a year", "every six months", "quarterly", "twice a year", "every year"),
    "event": (
        "any public release",
        "external deployment",
        "a major update",
        "each launch",
        "general availability",
    ),
    "pct": ("50", "25", "40", "60", "75", "30", "80"),
    "domain": (
        "biological",
        "cyber",
        "chemical",
        "nuclear",
        "autonomous replication",
        "persuasion",
    ),
    "safeguard": (
        "ASL-3 safeguards",
        "security controls",
        "deployment mitigations",
        "containment measures",
        "access restrictions",
    ),
    "body": ("board", "safety council", "risk committee", "oversight board", "audit committee"),
    "doc": ("policy", "framework", "governance charter", "risk register", "safety case"),
    "output": ("findings", "assessment", "evaluation results", "risk report", "audit conclusions"),
    "days": ("30", "45", "60", "90", "14", "21"),
    "partner": (
        "government institutes",
        "external experts",
        "independent auditors",
        "the safety institute",
        "academic reviewers",
    ),
    "deploy": ("deploy", "release", "ship", "make available"),
    "deploy_ing": ("deployment", "release", "training", "rollout"),
    "level": ("critical", "high", "moderate", "elevated"),
    "asset": ("model weights", "training data", "evaluation datasets", "internal checkpoints"),
    "count": ("five", "ten", "twelve", "twenty", "three"),
    "signal": (
        "early warning signs",
        "unexpected gains",
        "a threshold breach",
        "anomalous results",
    ),
}

SECTION_NAMES = (
    "Capability thresholds", "Evaluation commitments", "External review", "Governance",
    "Transparency", "Security", "Deployment", "Incident response", "Whistleblowing",
    "Risk assessment", "Model weights", "Staff and training", "Updates to this policy",
    "Definitions", "Scope", "Reporting", "Third-party access", "Monitoring",
)  # fmt: skip

SYNONYMS = {
    "will": "shall", "every": "each", "least": "minimum", "before": "prior to", "reviews": "examines",
    "publishes": "releases", "summary": "digest", "within": "inside", "commits": "undertakes",
    "share": "provide", "later": "more", "after": "following", "independent": "external",
    "assess": "evaluate", "remain": "stay", "adequate": "sufficient", "limited": "restricted",
    "named": "designated", "request": "query", "logged": "recorded", "pause": "halt",
    "show": "reveal", "reported": "sent", "summarised": "condensed", "update": "revise",
    "comes": "occurs", "first": "earliest", "raise": "voice", "concerns": "worries",
    "protected": "shielded", "directly": "immediately", "tested": "checked", "chosen": "selected",
    "any": "a", "the": "our", "is": "gets", "are": "get", "of": "for", "and": "as well as",
    "exceeds": "surpasses", "whose": "with", "threshold": "level", "without": "absent",
}  # fmt: skip
MEANING = (
    ("will not", "may"), ("must", "should"), ("shall", "may"), ("commits to", "aims to"),
    ("expects", "commits"), ("at least", "at most"), (" may ", " must "),
)  # fmt: skip

CATEGORIES = ("intact", "moved", "little", "meaning", "lot", "deleted", "decoy")
EXPECTED = {
    "intact": "intact",
    "moved": "moved",
    "little": "changed",
    "meaning": "changed",
    "lot": "changed",
    "deleted": "gone",
    "decoy": "gone",
}


@dataclass(frozen=True)
class Case:
    category: str
    expected: str
    quote: str


@dataclass(frozen=True)
class Revision:
    old: str
    new: str
    cases: tuple[Case, ...]


def _slots(template: str) -> list[str]:
    return [name for name in FILLERS if "{" + name + "}" in template]


class _Writer:
    """Sentences of the same template differ in at least DIFFER of their fillers:
    real policies do not repeat a sentence with one word changed, and a
    passage with a near-twin elsewhere is ambiguous by nature, not a test."""

    DIFFER = 2

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: dict[str, list[dict[str, str]]] = {}

    def sentence(self, template: str | None = None, *, avoid: int = 0) -> str:
        rng = self.rng
        for _ in range(2000):
            chosen = template or rng.choice(TEMPLATES)
            names = _slots(chosen)
            values = {name: rng.choice(FILLERS[name]) for name in names}
            differ = min(self.DIFFER, len(names))
            if all(
                sum(values[n] != other[n] for n in names) >= differ
                for other in self.used.get(chosen, [])
            ):
                self.used.setdefault(chosen, []).append(values)
                text = chosen.format(**values)
                return text[0].upper() + text[1:]
        raise RuntimeError("ran out of distinct sentences: raise the fillers")


def _reword(rng: random.Random, sentence: str, share: float) -> str:
    words = sentence.split()
    spots = [i for i, w in enumerate(words) if w.lower().strip(".,") in SYNONYMS]
    rng.shuffle(spots)
    count = max(1, round(len(words) * share)) if share >= 0.3 else rng.choice((1, 2))
    for i in spots[:count]:
        bare = words[i].lower().strip(".,")
        words[i] = SYNONYMS[bare] + ("." if words[i].endswith(".") else "")
    if share >= 0.3:  # a heavy rewording also restructures a little
        cut = rng.randrange(1, max(2, len(words) // 3))
        del words[cut : cut + 1]
        words.insert(
            rng.randrange(1, len(words)), rng.choice(("generally", "in practice", "where feasible"))
        )
    return " ".join(words)


def _change_meaning(rng: random.Random, sentence: str) -> str:
    options = [(a, b) for a, b in MEANING if a in sentence]
    digits = [w for w in sentence.split() if any(c.isdigit() for c in w)]
    if digits and (not options or rng.random() < 0.5):
        word = rng.choice(digits)
        number = "".join(c for c in word if c.isdigit())
        return sentence.replace(number, str(int(number) + rng.choice((5, 10, 20))), 1)
    if options:
        a, b = rng.choice(options)
        return sentence.replace(a, b, 1)
    # a negation where there was none
    for verb in (" will ", " must ", " may ", " shall ", " is ", " are "):
        if verb in sentence:
            return sentence.replace(verb, verb + "not ", 1)
    return "It is not the case that " + sentence[0].lower() + sentence[1:]


def _typeset(rng: random.Random, text: str) -> str:
    """What a PDF does to a text: ligatures, curly quotes, lines broken and hyphenated."""
    text = text.replace("fi", "\ufb01").replace("'", "\u2019")
    out = []
    for line in text.split("\n"):
        if line.startswith("#") or len(line) < 80 or rng.random() < 0.5:
            out.append(line)
            continue
        # a page break inside the paragraph, hyphenating the word it falls in
        at = rng.randrange(20, len(line) - 20)
        while at < len(line) - 1 and not (line[at].isalpha() and line[at + 1].isalpha()):
            at += 1
        out.append(line[: at + 1] + "-")
        out.append(line[at + 1 :])
    return "\n".join(out)


def revision(
    seed: int, *, sections: int = 36, paragraphs: int = 6, citations: int = 56
) -> Revision:
    """A policy (about 30 pages at the defaults), its revision and labelled citations."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    names = [f"{i + 1}. {SECTION_NAMES[i % len(SECTION_NAMES)]}" for i in range(sections)]
    body: list[list[list[str]]] = [
        [[writer.sentence() for _ in range(rng.randint(2, 4))] for _ in range(paragraphs)]
        for _ in range(sections)
    ]
    seen: set[str] = set()
    spots = []
    for s, section in enumerate(body):
        for p, paragraph in enumerate(section):
            for k, sentence in enumerate(paragraph):
                if sentence not in seen:
                    spots.append((s, p, k))
                seen.add(sentence)
    picks = rng.sample(spots, citations)
    old = _render(names, body)
    new_body = [[list(p) for p in section] for section in body]
    cases: list[Case] = []
    moves: list[tuple[int, str]] = []
    for n, (s, p, k) in enumerate(picks):
        category = CATEGORIES[n % len(CATEGORIES)]
        sentence = body[s][p][k]
        quote = sentence
        # a clause rather than the whole sentence, where the edit cannot miss it
        if category in ("intact", "moved", "deleted", "decoy") and rng.random() < 0.4:
            words = sentence.split()
            start = rng.randrange(0, max(1, len(words) - 8))
            quote = " ".join(words[start : start + rng.randint(8, 14)])
        paragraph = new_body[s][p]
        if category == "moved":
            paragraph[k] = ""
            moves.append((s, sentence))
        elif category == "little":
            paragraph[k] = _reword(rng, sentence, 0.1)
        elif category == "meaning":
            paragraph[k] = _change_meaning(rng, sentence)
        elif category == "lot":
            paragraph[k] = _reword(rng, sentence, 0.45)
        elif category in ("deleted", "decoy"):
            paragraph[k] = ""
            if category == "decoy":
                template = next((t for t in TEMPLATES if _fits(t, sentence)), TEMPLATES[0])
                try:
                    moves.append((s, writer.sentence(template)))
                except RuntimeError:  # every sentence of that kind is taken
                    moves.append((s, writer.sentence()))
        cases.append(Case(category, EXPECTED[category], quote))
    for s, sentence in moves:
        target = rng.choice([i for i in range(sections) if i != s and i != s + 1 and i != s - 1])
        new_body[target][rng.randrange(paragraphs)].append(sentence)
    new = _typeset(rng, _render(names, new_body))
    return Revision(old, new, tuple(cases))


def _fits(template: str, sentence: str) -> bool:
    words = [w for w in template.replace(".", "").split() if "{" not in w]
    return all(w.lower() in sentence.lower() for w in words)


def _render(names: list[str], body: list[list[list[str]]]) -> str:
    lines = ["# Frontier Safety Policy"]
    for name, section in zip(names, body, strict=True):
        lines.append(f"## {name}")
        for paragraph in section:
            text = " ".join(s for s in paragraph if s)
            if text:
                lines.append(text)
    return "\n".join(lines)
