"""Heading recall and precision of PDF extraction on generated documents.

    python bench/structure_quality.py [--documents N] [--seed S] [--verbose]

Generates policy-like PDFs (fpdf2) in varied layouts — with and without an
outline, numbered and unnumbered headings, headings larger than the body or
bold in the body size, two columns, tables with bold header cells, captions,
bold labels, footnotes, running headers (the document's title or the
chapter's), "Page N of M" footers and bare page numbers, chapters starting on
a new page — with known headings, extracts each with watcher's extractor and
compares the `#` lines with the headings typeset. A heading counts when its
text matches ("text") and when its level matches too ("text+level"). Also
prints the share of running headers, footers and page numbers left in the
text, and extraction time per PDF. Headings' words and layouts are drawn from
a seeded generator, so runs are repeatable and nothing is tuned to one text.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pdfs import Block, Layout, make_structured_pdf
from watcher.extract.pdf import extract_pdf
from watcher.models import ExtractRules

WORDS = [
    "capability",
    "thresholds",
    "safeguards",
    "governance",
    "deployment",
    "evaluation",
    "security",
    "model",
    "weights",
    "risk",
    "assessment",
    "frontier",
    "autonomy",
    "cyber",
    "biological",
    "chemical",
    "nuclear",
    "misuse",
    "oversight",
    "board",
    "transparency",
    "reporting",
    "incident",
    "response",
    "red",
    "teaming",
    "access",
    "controls",
    "monitoring",
    "compliance",
    "external",
    "review",
    "mitigations",
    "scope",
    "definitions",
    "commitments",
    "accountability",
    "escalation",
    "procedures",
    "training",
    "compute",
    "alignment",
    "testing",
    "disclosure",
    "partners",
    "audits",
    "critical",
    "levels",
]
SENTENCE_WORDS = [
    "we",
    "will",
    "the",
    "a",
    "model",
    "to",
    "of",
    "and",
    "in",
    "that",
    "before",
    "after",
    "each",
    "any",
    "our",
    "evaluation",
    "results",
    "are",
    "shared",
    "with",
    "review",
    "board",
    "when",
    "safeguards",
    "apply",
    "at",
    "or",
    "above",
    "threshold",
    "level",
    "developers",
    "must",
    "document",
    "decisions",
    "publicly",
    "within",
    "days",
    "policy",
    "requires",
    "independent",
    "teams",
    "assess",
    "risks",
]
LAYOUTS: dict[str, Layout] = {
    "outline, numbered": Layout(outline=True),
    "outline, bold body-size": Layout(outline=True, sizes=(16, 10, 10), header="title"),
    "numbered, sizes": Layout(footer=True),
    "unnumbered, sizes": Layout(sizes=(20, 15, 12), page_numbers=True, header="title"),
    "numbered, bold body-size": Layout(sizes=(16, 10, 10), page_numbers=True),
    "two columns": Layout(columns=2, sizes=(16, 12, 10.5), footer=True, header="title"),
    "chapter headers, new pages": Layout(header="chapter", footer=True, new_page_per_chapter=True),
    "regular-weight sizes": Layout(sizes=(20, 15, 12.5), bold=(False, False, False), body=11),
    "outline without numbers": Layout(outline=True, bookmark_numbers=False, page_numbers=True),
    "long headings, two columns": Layout(columns=2, sizes=(18, 14, 12), header="chapter"),
}
LONG = {"long headings, two columns"}
NUMBERED = {"outline, numbered", "numbered, sizes", "numbered, bold body-size", "two columns",
            "chapter headers, new pages", "outline without numbers", "long headings, two columns"}  # fmt: skip


@dataclass
class Generated:
    layout: str
    content: bytes
    headings: list[tuple[int, str]]
    furniture: list[str]


def heading_words(rng: random.Random, longest: int = 4) -> str:
    words = rng.sample(WORDS, rng.randint(1, longest))
    text = " ".join(words)
    return text[0].upper() + text[1:] if rng.random() < 0.6 else text.title()


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(SENTENCE_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(1, 5)))


def document(
    rng: random.Random, layout_name: str
) -> tuple[str, list[Block], list[tuple[int, str]]]:
    """Blocks of one document and its headings (level, text), the title at level 1."""
    numbered = layout_name in NUMBERED
    title = f"{heading_words(rng).title()} Framework"
    blocks: list[Block] = [("h", "1", title), ("p", paragraph(rng))]
    headings = [(1, title)]
    used = {title}
    body_size_levels = LAYOUTS[layout_name].sizes[1] == LAYOUTS[layout_name].body
    # unnumbered headings in the body size cannot tell level 2 from 3 without an outline
    deepest = 2 if body_size_levels and not numbered and not LAYOUTS[layout_name].outline else 3
    for chapter in range(1, rng.randint(4, 8) + 1):
        for sub in range(rng.randint(0, 3) + 1):
            level = 2 if sub == 0 else 3
            if level > deepest:
                break
            longest = 9 if layout_name in LONG else 4
            words = heading_words(rng, longest)
            while words in used:
                words = heading_words(rng, longest)
            used.add(words)
            if numbered:
                text = f"{chapter}. {words}" if level == 2 else f"{chapter}.{sub} {words}"
            else:
                text = words
            if level == 2 and chapter == 1 and rng.random() < 0.3 and numbered:
                text = f"Part I {words}" if rng.random() < 0.5 else text
            blocks.append(("h", str(level), text))
            headings.append((level, text))
            for _ in range(rng.randint(1, 3)):
                blocks.append(("p", paragraph(rng)))
                roll = rng.random()
                if roll < 0.12:
                    header = "|".join(w.title() for w in rng.sample(WORDS, 3))
                    rows = ["|".join(rng.choice(WORDS) for _ in range(3)) for _ in range(3)]
                    blocks.append(("table", header, *rows))
                    blocks.append(("caption", f"Table {chapter}: {heading_words(rng)}"))
                elif roll < 0.2:
                    blocks.append(("li", sentence(rng, 8)))
                    blocks.append(("li", sentence(rng, 12)))
                elif roll < 0.26:
                    blocks.append(("label", rng.choice(("NOTE", "IMPORTANT", "WARNING"))))
                    blocks.append(("p", paragraph(rng)))
                elif roll < 0.32:
                    blocks.append(("note", f"{chapter} {sentence(rng, 9)}"))
    if numbered and rng.random() < 0.5:
        words = heading_words(rng)
        blocks.append(("h", "2", f"Appendix A {words}"))
        headings.append((2, f"Appendix A {words}"))
        blocks.append(("p", paragraph(rng)))
    return title, blocks, headings


def generate(count: int, seed: int) -> list[Generated]:
    rng = random.Random(seed)
    names = list(LAYOUTS)
    generated = []
    for index in range(count):
        name = names[index % len(names)]
        title, blocks, headings = document(rng, name)
        layout = LAYOUTS[name]
        furniture = []
        if layout.header == "title":
            furniture.append(title)
        if layout.footer:
            furniture.append("Page ")
        generated.append(
            Generated(name, make_structured_pdf(title, blocks, layout), headings, furniture)
        )
    return generated


_HEADING = re.compile(r"^(#{1,6}) (.*)$", re.MULTILINE)


def found_headings(text: str) -> list[tuple[int, str]]:
    return [(len(match.group(1)), match.group(2)) for match in _HEADING.finditer(text)]


def furniture_left(text: str, doc: Generated, pages: int) -> tuple[int, int]:
    """(lines of running header/footer/page number left in the text, lines printed)."""
    lines = text.splitlines()
    printed = 0
    left = 0
    for item in doc.furniture:
        printed += pages
        if item == "Page ":
            left += sum(1 for line in lines if re.fullmatch(r"Page \d+ of \d+", line))
        else:
            # the title is also the document's first heading: one occurrence is content
            left += max(0, sum(1 for line in lines if line.lstrip("# ") == item) - 1)
    if doc.layout in {"unnumbered, sizes", "numbered, bold body-size"}:
        printed += pages
        left += sum(1 for line in lines if line.isdecimal())
    return left, printed


def score(expected: list[tuple[int, str]], found: list[tuple[int, str]]) -> tuple[int, int]:
    """Matches by text, and by text and level (multisets)."""
    text = sum((Counter(t for _, t in expected) & Counter(t for _, t in found)).values())
    both = sum((Counter(expected) & Counter(found)).values())
    return text, both


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true", help="print each miss and false heading")
    args = parser.parse_args()
    docs = generate(args.documents, args.seed)
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    times = []
    for doc in docs:
        started = time.perf_counter()
        extracted = extract_pdf(doc.content, charset=None, url="", rules=ExtractRules())
        times.append((time.perf_counter() - started) * 1000)
        found = found_headings(extracted.text)
        text_hits, level_hits = score(doc.headings, found)
        left, printed = furniture_left(extracted.text, doc, extracted.pages or 0)
        for key in (doc.layout, "overall"):
            counts = totals[key]
            counts["documents"] += 1
            counts["expected"] += len(doc.headings)
            counts["found"] += len(found)
            counts["text"] += text_hits
            counts["level"] += level_hits
            counts["furniture_left"] += left
            counts["furniture"] += printed
            counts["pages"] += extracted.pages or 0
        if args.verbose:
            wanted = Counter(doc.headings)
            got = Counter(found)
            for heading in (wanted - got).elements():
                print(f"  [{doc.layout}] missed  {heading}")
            for heading in (got - wanted).elements():
                print(f"  [{doc.layout}] extra   {heading}")
    header = f"{'layout':<28} {'docs':>4} {'pages':>5} {'heads':>5} {'text R':>7} {'text P':>7} {'+lvl R':>7} {'+lvl P':>7} {'furniture left':>15}"
    print(header)
    for key, counts in sorted(totals.items(), key=lambda item: item[0] == "overall"):
        expected, found = counts["expected"], counts["found"] or 1
        furniture = (
            f"{counts['furniture_left']}/{counts['furniture']}" if counts["furniture"] else "-"
        )
        print(
            f"{key:<28} {counts['documents']:>4} {counts['pages']:>5} {expected:>5} "
            f"{counts['text'] / expected:7.3f} {counts['text'] / found:7.3f} "
            f"{counts['level'] / expected:7.3f} {counts['level'] / found:7.3f} {furniture:>15}"
        )
    print(
        f"extraction: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms per PDF "
        f"({sum(len(doc.content) for doc in docs) / len(docs) / 1024:.0f} KB on average)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
