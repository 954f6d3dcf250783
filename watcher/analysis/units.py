"""Units: the sentences, list items and headings of the changed lines, with their heading paths."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from watcher.analysis.labels import DATE_RES, VERSION_RE
from watcher.analysis.text import RUN_IN_HEADING, key, split_sentences, undouble, words

PATH_SEPARATOR = " › "

_HEADING = re.compile(r"(#{1,6}) +(.*?)(?: +#+)? *")
_LIST_ITEM = re.compile(r"(?:[-*•+]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s+")
_TERMINAL = re.compile(r"[.!?:;…\"”’')\]]\s*$")
_NUMBERING = re.compile(
    r"^\s*(?:(?:section|part|chapter|appendix|annex)\s+)?"
    r"(?:\d+(?:\.\d+)*|[ivxlc]+|[a-z])(?:[.):]|\s)\s*",
    re.IGNORECASE,
)


@dataclass
class Unit:
    """A sentence or heading of a changed region, in the old text or the new."""

    text: str
    key: str
    section: str
    region: int
    line: int  # line index in its own text
    old: bool
    heading_level: int = 0  # 0 for a sentence
    words: list[str] = field(default_factory=list)
    bag: Counter[str] = field(default_factory=Counter)
    done: bool = False  # cancelled by an equal unit, or aligned

    @property
    def is_heading(self) -> bool:
        return self.heading_level > 0

    @property
    def where(self) -> tuple[int, int]:
        """Its place in the document, to order the signals it raises."""
        return (self.region, self.line)


def section_of(old: Unit | None, new: Unit | None) -> str:
    """The heading path of a pair's new side, else of its old side."""
    return new.section if new is not None else old.section if old is not None else ""


def text_of(unit: Unit | None) -> str | None:
    return unit.text if unit is not None else None


def _heading_key(text: str) -> str:
    """A heading without its numbering, version labels and dates: moved or renumbered is equal."""
    text = VERSION_RE.sub(" ", text)
    for pattern in DATE_RES:
        text = pattern.sub(" ", text)
    previous = None
    while previous != text:
        previous, text = text, _NUMBERING.sub("", text, count=1)
    return key(text)


_STARTS_RUN_IN = re.compile(rf"(?:{RUN_IN_HEADING.pattern}):\s+[A-Z][a-z]*\s+[a-z]")


def _continues(previous: str, line: str) -> bool:
    """Whether `line` continues the paragraph `previous` (text wrapped over lines).

    A line that opens with a run-in heading ('External access: We…') starts
    a paragraph of its own, whatever the line before it.
    """
    if _TERMINAL.search(previous) or _STARTS_RUN_IN.match(line):
        return False
    return line[:1].islower() or len(previous) >= 60


def units(
    lines: Sequence[str],
    start: int,
    end: int,
    paths: Sequence[tuple[str, ...]],
    region: int,
    old: bool,
) -> list[Unit]:
    """The units of `lines[start:end]`; a paragraph wrapped over several lines is joined first."""
    found: list[Unit] = []
    block: list[str] = []
    block_line = start

    def add(text: str, line: int, level: int = 0) -> None:
        section = PATH_SEPARATOR.join(paths[line]) if line < len(paths) else ""
        unit_words = undouble(words(text))
        unit_key = "#" + _heading_key(text) if level else " ".join(unit_words)
        if not unit_key.strip("#"):
            return
        if found and found[-1].key == unit_key and found[-1].line >= line - 1:
            return  # the same sentence printed twice in a row (a PDF producer's doubled run)
        found.append(
            Unit(text, unit_key, section, region, line, old, level, unit_words, Counter(unit_words))
        )

    def flush() -> None:
        if block:
            for sentence in split_sentences(" ".join(block)):
                add(sentence, block_line)
            block.clear()

    for index in range(start, end):
        line = lines[index].strip()
        heading = _HEADING.fullmatch(line) if line.startswith("#") else None
        if heading and heading.group(2):
            flush()
            add(heading.group(2), index, len(heading.group(1)))
        elif not line:
            flush()
        elif (item := _LIST_ITEM.match(line)) or line.startswith("|"):
            flush()
            body = line[item.end() :] if item else line
            for sentence in split_sentences(body):
                add(sentence, index)
        elif block and _continues(block[-1], line):
            block.append(line)
        else:
            flush()
            block.append(line)
            block_line = index
    flush()
    return found


def heading_paths(lines: Sequence[str]) -> tuple[list[tuple[str, ...]], list[int]]:
    """Heading path of every line, and the indexes of the heading lines."""
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    paths: list[tuple[str, ...]] = []
    heads: list[int] = []
    for index, line in enumerate(lines):
        if line.startswith("#"):
            match = _HEADING.fullmatch(line.strip())
            if match and match.group(2):
                level = len(match.group(1))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, match.group(2)))
                path = tuple(text for _, text in stack)
                heads.append(index)
        paths.append(path)
    return paths, heads
