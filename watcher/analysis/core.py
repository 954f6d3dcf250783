"""The analysis from end to end: a change cut into units, cancelled, aligned, read for signals."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from watcher.analysis.align import ALIGN_MIN, align, pair_edit, repunctuated
from watcher.analysis.commitments import commitment_signals, exception_signals
from watcher.analysis.content import content_signals
from watcher.analysis.labels import label_signals
from watcher.analysis.numbers import quantity_signals
from watcher.analysis.regions import line_regions, regions_from_change, share_changed
from watcher.analysis.scope import scope_signals
from watcher.analysis.sections import section_signals
from watcher.analysis.severity import Collector
from watcher.analysis.terms import term_signals
from watcher.analysis.text import normalise
from watcher.analysis.units import Unit, heading_paths, units
from watcher.config import AnalysisSettings
from watcher.models import Analysis, Change, Link

log = logging.getLogger(__name__)

#: Past this many deleted plus added sentences (a rewritten document), the
#: sentences left unaligned raise no signals of their own: the change is a
#: `large_rewrite`, its sections are still reported, and the work stays bounded.
MAX_DETAILED_UNITS = 1500


def analyse(
    old: str,
    new: str,
    *,
    change: Change | None = None,
    watch_terms: Sequence[str] = (),
    large_rewrite_share: float = 0.5,
    substantive_share: float = 0.05,
    substantive_words: int = 50,
    new_documents: Sequence[Link] = (),
    old_pages: Sequence[int] | None = None,
    new_pages: Sequence[int] | None = None,
) -> Analysis:
    """Severity and signals of the change from `old` to `new` (see the package docstring).

    `change` is `detect.diff(old, new)` when the caller has it (its hunks are
    reused); `watch_terms` the global and per-source terms; the thresholds are
    the `[analysis]` settings of the same names; `new_documents` the links a
    `follow` rule found for the first time; `old_pages`/`new_pages` the page
    maps of PDF texts (the page each line starts on), which give signals their `page`.
    """
    collector = Collector(old_pages=old_pages, new_pages=new_pages)
    for link in new_documents:
        collector.add("new_document", "", None, link.url, link.text, (-1, 0))
    if old == new:
        return collector.finish(0, 1, substantive_share, substantive_words)

    # formatting is not meaning: the same lines, without it
    old_lines = [normalise(line) for line in old.split("\n")]
    new_lines = [normalise(line) for line in new.split("\n")]
    regions = (
        regions_from_change(change) if change is not None else line_regions(old_lines, new_lines)
    )
    if change is not None:
        old_words, new_words = change.stats.old_words, change.stats.new_words
        share = change.stats.share_changed
    else:
        old_words, new_words = len(old.split()), len(new.split())
        share = share_changed(regions, old_lines, new_lines, old_words, new_words)
    if share >= large_rewrite_share:
        collector.add("large_rewrite", "", None, None, f"{share:.0%} of the text changed", (-1, 1))

    old_paths, old_heads = heading_paths(old_lines)
    new_paths, new_heads = heading_paths(new_lines)

    olds: list[Unit] = []
    news: list[Unit] = []
    for index, region in enumerate(regions):
        olds += units(old_lines, region.old_start, region.old_end, old_paths, index, True)
        news += units(new_lines, region.new_start, region.new_end, new_paths, index, False)

    label_signals(regions, old_lines, new_lines, collector)

    # Moved text, reordered lists, punctuation, case and reflow: equal keys cancel.
    pool: dict[str, list[Unit]] = {}
    for unit in news:
        pool.setdefault(unit.key, []).append(unit)
    for unit in olds:
        same = pool.get(unit.key)
        if same:
            unit.done = True
            same.pop(0).done = True

    changed_words, renamed = section_signals(
        olds, news, old_lines, new_lines, old_heads, new_heads, collector
    )

    pairs = _align_sentences(olds, news)
    real_pairs = []
    for a, b in pairs:
        edit = pair_edit(a, b)
        if edit:
            changed_words += edit
            real_pairs.append((a, b))
    deleted = [unit for unit in olds if not unit.done]
    inserted = [unit for unit in news if not unit.done]
    changed_words += max(
        sum(len(u.words) for u in deleted if not u.is_heading),
        sum(len(u.words) for u in inserted if not u.is_heading),
    )

    if len(deleted) + len(inserted) > MAX_DETAILED_UNITS:
        log.debug(
            "analysis: %d sentences deleted or added, not read one by one",
            len(deleted) + len(inserted),
        )
        deleted, inserted = [], []

    commitment_signals(real_pairs, deleted, inserted, collector)
    exception_signals(real_pairs, inserted, collector)
    scope_signals(real_pairs, deleted, inserted, collector)
    quantity_signals(real_pairs, deleted, inserted, collector)
    term_signals(watch_terms, real_pairs + renamed, deleted, inserted, collector)
    content_signals(real_pairs, deleted, collector, rewrite=share >= large_rewrite_share)

    return collector.finish(
        changed_words, max(old_words, new_words), substantive_share, substantive_words
    )


def _align_sentences(olds: list[Unit], news: list[Unit]) -> list[tuple[Unit, Unit]]:
    """Align the sentences left: inside each region first, then across regions.

    Marks every aligned unit, and every unit of a re-punctuated region, done.
    """
    pairs: list[tuple[Unit, Unit]] = []
    by_region: dict[int, tuple[list[Unit], list[Unit]]] = {}
    for unit in olds:
        if not unit.done and not unit.is_heading:
            by_region.setdefault(unit.region, ([], []))[0].append(unit)
    for unit in news:
        if not unit.done and not unit.is_heading:
            by_region.setdefault(unit.region, ([], []))[1].append(unit)
    for region_old, region_new in by_region.values():
        if repunctuated(region_old, region_new):
            for unit in region_old + region_new:
                unit.done = True
            continue
        found = align(region_old, region_new, ALIGN_MIN)
        paired = {id(unit) for pair in found for unit in pair}
        rest_old = [unit for unit in region_old if id(unit) not in paired]
        rest_new = [unit for unit in region_new if id(unit) not in paired]
        if len(rest_old) == 1 and len(rest_new) == 1:
            # One sentence replaced by one other, however reworded: the seed's
            # 'We commit to …' → 'We expect this to include …'.
            found.append((rest_old[0], rest_new[0]))
        for a, b in found:
            a.done = b.done = True
        pairs += found
    leftover_old = [unit for unit in olds if not unit.done and not unit.is_heading]
    leftover_new = [unit for unit in news if not unit.done and not unit.is_heading]
    if leftover_old and leftover_new:
        for a, b in align(leftover_old, leftover_new, ALIGN_MIN):
            a.done = b.done = True
            pairs.append((a, b))
    return pairs


def analyse_with(
    settings: AnalysisSettings,
    old: str,
    new: str,
    *,
    change: Change | None = None,
    watch_terms: Sequence[str] = (),
    new_documents: Sequence[Link] = (),
    old_pages: Sequence[int] | None = None,
    new_pages: Sequence[int] | None = None,
) -> Analysis:
    """`analyse` with the thresholds of the `[analysis]` table."""
    return analyse(
        old,
        new,
        change=change,
        watch_terms=watch_terms,
        large_rewrite_share=settings.large_rewrite_share,
        substantive_share=settings.substantive_share,
        substantive_words=settings.substantive_words,
        new_documents=new_documents,
        old_pages=old_pages,
        new_pages=new_pages,
    )
