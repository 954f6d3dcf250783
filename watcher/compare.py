"""Two texts of a source compared: the diff and what kind of change it is.

The step of a check that runs in a worker process when a text changed; a
module of its own so that a worker imports only what it needs for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watcher import detect
from watcher.config import AnalysisSettings
from watcher.models import Analysis, Change, Link

__all__ = ["Comparison", "compare_texts", "watch_terms_for"]


@dataclass(frozen=True)
class Comparison:
    """Two texts of a source compared: the diff and what kind of change it is."""

    change: Change | None
    analysis: Analysis


def watch_terms_for(own: Sequence[str], settings: AnalysisSettings) -> tuple[str, ...]:
    """The terms a comparison watches: the source's own, then the global ones, each once."""
    return tuple(dict.fromkeys((*own, *settings.watch_terms)))


def compare_texts(
    old: str,
    new: str,
    *,
    watch_terms: tuple[str, ...],
    settings: AnalysisSettings,
    new_documents: tuple[Link, ...] = (),
    old_pages: tuple[int, ...] | None = None,
    new_pages: tuple[int, ...] | None = None,
) -> Comparison:
    """Diff and analyse two texts; runs in a worker process.

    `old_pages`/`new_pages`: the page maps of PDF texts, for the hunks' pages
    and the signals' page.
    """
    from watcher.analysis import analyse_with  # its patterns take 50 ms to compile: workers only

    change = detect.diff(old, new, old_pages, new_pages)
    result = analyse_with(
        settings,
        old,
        new,
        change=change,
        watch_terms=watch_terms,
        new_documents=new_documents,
        old_pages=old_pages,
        new_pages=new_pages,
    )
    return Comparison(change, result)
