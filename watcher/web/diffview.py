"""A `Change` shaped for the dashboard's templates: inline and side-by-side rows.

Pure functions, no markup: the templates escape every piece of text. Word
marks come from `Hunk.words`; the side-by-side view splits them per side
(old side: kept and deleted words; new side: kept and inserted words).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

from watcher.models import Change, Hunk, WordOp, page_label

#: Lines of unchanged text shown around each hunk.
CONTEXT = 2

#: Hunks rendered on one page of a diff: rendering is what costs on a long
#: diff (v1 → v200), so the rest is on further pages.
PER_PAGE = 100

PATH_SEPARATOR = " › "

Op = Literal["equal", "delete", "insert"]
Mode = Literal["inline", "side"]


@dataclass(frozen=True)
class Piece:
    op: Op
    text: str


@dataclass(frozen=True)
class InlineLine:
    """One line of the inline view: mark is ' ' (context), '−', '+' or '~' (word-marked)."""

    mark: str
    number: int | None  # 1-based line in the new text (old text for removed lines)
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class SideRow:
    """One row of the side-by-side view; a side is None where it has no line."""

    kind: Literal["context", "change"]
    old_number: int | None
    old: tuple[Piece, ...] | None
    new_number: int | None
    new: tuple[Piece, ...] | None


@dataclass(frozen=True)
class HunkView:
    anchor: str
    path: str
    line: int
    inline: tuple[InlineLine, ...]
    rows: tuple[SideRow, ...]
    pages: str = ""  # "p. 7", "pp. 7–8" for a PDF; "" otherwise


@dataclass(frozen=True)
class Section:
    path: str
    anchor: str  # of its first hunk
    hunks: int
    page: int  # where its first hunk is


@dataclass(frozen=True)
class DiffView:
    hunks: tuple[HunkView, ...]
    sections: tuple[Section, ...]
    total_hunks: int
    words_added: int
    words_removed: int
    share_changed: float
    page: int = 1
    pages: int = 1

    @property
    def first_number(self) -> int:
        """1-based number of the first hunk on this page."""
        return int(self.hunks[0].anchor[1:]) if self.hunks else 0


def _split_lines(ops: list[WordOp] | tuple[WordOp, ...], keep: set[str]) -> list[list[Piece]]:
    """Word ops of the kinds in `keep`, cut at line breaks into lines of pieces."""
    lines: list[list[Piece]] = [[]]
    for op in ops:
        if op.op not in keep:
            continue
        for index, part in enumerate(op.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].extend(_pieces(op.op, part))
    return lines


def _pieces(op: Op, text: str) -> list[Piece]:
    """A marked run with its surrounding spaces left unmarked, so marks hug the words."""
    if op == "equal":
        return [Piece(op, text)]
    core = text.strip()
    if not core:
        # a change of spacing alone: keep it on the new side, drop it from the old
        return [Piece("equal", text)] if op == "insert" else []
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return [
        *([Piece("equal", lead)] if lead else []),
        Piece(op, core),
        *([Piece("equal", trail)] if trail else []),
    ]


def _context(lines: list[str], start: int, stop: int, offset: int) -> list[tuple[int, int, str]]:
    """(old number, new number, text) of new-text lines [start, stop); offset maps new → old."""
    return [(j + offset + 1, j + 1, lines[j]) for j in range(max(start, 0), min(stop, len(lines)))]


def _hunk_view(
    index: int,
    hunk: Hunk,
    before: list[tuple[int, int, str]],
    after: list[tuple[int, int, str]],
    mode: Mode | None = None,
) -> HunkView:
    inline = _inline(hunk, before, after) if mode != "side" else ()
    rows = _rows(hunk, before, after) if mode != "inline" else ()
    return HunkView(
        anchor=f"h{index + 1}",
        path=PATH_SEPARATOR.join(hunk.heading_path),
        line=(hunk.new_start if hunk.new_lines else hunk.old_start) + 1,
        inline=inline,
        rows=rows,
        pages=page_label(hunk.pages),
    )


def _inline(
    hunk: Hunk, before: list[tuple[int, int, str]], after: list[tuple[int, int, str]]
) -> tuple[InlineLine, ...]:
    inline = [InlineLine(" ", new_no, (Piece("equal", text),)) for _, new_no, text in before]
    if hunk.words:
        for offset, line in enumerate(_split_lines(hunk.words, {"equal", "delete", "insert"})):
            inline.append(InlineLine("~", hunk.new_start + offset + 1, tuple(line)))
    else:
        for offset, text in enumerate(hunk.old_lines):
            inline.append(InlineLine("−", hunk.old_start + offset + 1, (Piece("delete", text),)))
        for offset, text in enumerate(hunk.new_lines):
            inline.append(InlineLine("+", hunk.new_start + offset + 1, (Piece("insert", text),)))
    inline += [InlineLine(" ", new_no, (Piece("equal", text),)) for _, new_no, text in after]
    return tuple(inline)


def _rows(
    hunk: Hunk, before: list[tuple[int, int, str]], after: list[tuple[int, int, str]]
) -> tuple[SideRow, ...]:
    rows: list[SideRow] = []
    for old_no, new_no, text in before:
        piece = (Piece("equal", text),)
        rows.append(SideRow("context", old_no, piece, new_no, piece))
    if hunk.words:
        old_side = _split_lines(hunk.words, {"equal", "delete"})
        new_side = _split_lines(hunk.words, {"equal", "insert"})
    else:
        old_side = [[Piece("delete", text)] for text in hunk.old_lines]
        new_side = [[Piece("insert", text)] for text in hunk.new_lines]
    if not hunk.old_lines:
        old_side = []
    if not hunk.new_lines:
        new_side = []
    for offset, (old, new) in enumerate(zip_longest(old_side, new_side)):
        rows.append(
            SideRow(
                "change",
                hunk.old_start + offset + 1 if old is not None else None,
                tuple(old) if old is not None else None,
                hunk.new_start + offset + 1 if new is not None else None,
                tuple(new) if new is not None else None,
            )
        )

    for old_no, new_no, text in after:
        piece = (Piece("equal", text),)
        rows.append(SideRow("context", old_no, piece, new_no, piece))
    return tuple(rows)


def build(
    change: Change,
    new_text: str,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    mode: Mode | None = None,
) -> DiffView:
    """The view of one page of `change` (computed against `new_text`).

    Hunks are numbered across pages (anchors h1, h2, ...), so the section
    navigator can link to a hunk on any page. With a `mode`, only that view
    of the hunks is built (the other is left empty); without, both.
    """
    new_lines = new_text.split("\n") if new_text else []
    hunks = change.hunks
    pages = max(1, -(-len(hunks) // per_page))
    page = min(max(page, 1), pages)
    first = (page - 1) * per_page
    views: list[HunkView] = []
    shown_until = 0  # new-text lines already shown, so context never repeats
    if first:
        previous = hunks[first - 1]
        shown_until = previous.new_start + len(previous.new_lines) + CONTEXT
    for index in range(first, min(first + per_page, len(hunks))):
        hunk = hunks[index]
        offset = hunk.old_start - hunk.new_start
        before = _context(
            new_lines, max(hunk.new_start - CONTEXT, shown_until), hunk.new_start, offset
        )
        end = hunk.new_start + len(hunk.new_lines)
        old_end = hunk.old_start + len(hunk.old_lines)
        next_start = hunks[index + 1].new_start if index + 1 < len(hunks) else len(new_lines)
        after = _context(new_lines, end, min(end + CONTEXT, next_start), old_end - end)
        shown_until = end + len(after)
        views.append(_hunk_view(index, hunk, before, after, mode))

    sections: dict[str, list[int]] = {}
    for index, hunk in enumerate(hunks):
        sections.setdefault(PATH_SEPARATOR.join(hunk.heading_path), []).append(index)
    stats = change.stats
    return DiffView(
        hunks=tuple(views),
        sections=tuple(
            Section(
                path or "(before the first heading)",
                f"h{indexes[0] + 1}",
                len(indexes),
                indexes[0] // per_page + 1,
            )
            for path, indexes in sections.items()
        ),
        total_hunks=len(hunks),
        words_added=stats.words_added,
        words_removed=stats.words_removed,
        share_changed=stats.share_changed,
        page=page,
        pages=pages,
    )
