"""A diff between two versions shaped for the pages, with its signals; both cached.

The diff page, the task page and the JSON API ask for the same diffs, and a
long one (v1 → v200 of a 50,000-word text) costs ~130 ms to compute, so the
last ones are kept by their two texts.
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from watcher import analysis, detect, models, queries
from watcher.config import AnalysisSettings, Config
from watcher.store import Store, VersionRow
from watcher.web import diffview

log = logging.getLogger(__name__)

#: Signals are worked out for diffs of up to this many hunks: analysis costs
#: ~2-4 ms a hunk (v1 → v200 of a 50,000-word text: over a second), and every
#: page must answer in well under 200 ms.
ANALYSIS_MAX_HUNKS = 25


@functools.lru_cache(maxsize=32)
def _analysis(
    old_text: str,
    new_text: str,
    settings: AnalysisSettings,
    terms: tuple[str, ...],
    old_pages: tuple[int, ...] | None = None,
    new_pages: tuple[int, ...] | None = None,
) -> dict[str, Any] | None:
    """Severity and signals of a diff, shaped for the templates (cached by texts).

    A failing analysis must never break a page: any error is logged and the
    page shows the diff without signals.
    """
    try:
        result = analysis.analyse_with(
            settings,
            old_text,
            new_text,
            change=cached_diff(old_text, new_text),
            watch_terms=terms,
            old_pages=old_pages,
            new_pages=new_pages,
        )
    except Exception:  # a side channel: never fail the page
        log.warning("analysis failed; showing the diff without signals", exc_info=True)
        return None
    return {
        "severity": result.severity,
        "signals": [
            {
                **models.signal_to_json(s),
                "label": models.SIGNAL_LABELS.get(s.kind, s.kind.replace("_", " ")),
            }
            for s in result.signals
        ],
    }


#: The last diffs computed, by their two texts: a long diff (v1 → v200 of a
#: 50,000-word text) costs ~130 ms, and its pages, the task page and the JSON
#: API ask for the same one.
cached_diff = functools.lru_cache(maxsize=16)(detect.diff)


def diff_context(
    store: Store,
    source_id: str,
    old: int | None,
    new: int | None,
    *,
    page: int = 1,
    config: Config | None = None,
    mode: diffview.Mode | None = None,
) -> dict[str, Any]:
    """Both versions, one page of the view of their diff (in `mode`, or both
    views), the analysis, the version pickers."""
    texts: list[str] = []

    def differ(old_text: str, new_text: str) -> models.Change | None:
        texts[:] = [old_text, new_text]  # kept: reading a long text again costs
        return cached_diff(old_text, new_text)

    old_v, new_v, change = queries.compare(store, source_id, old, new, differ=differ)
    data = _shape(store, source_id, old_v, new_v, change, texts, page, config, mode)
    data["numbers"] = [v.number for v in store.versions(source_id)]
    return data


def compare_context(
    store: Store,
    old: queries.VersionRef,
    new: queries.VersionRef,
    *,
    page: int = 1,
    config: Config | None = None,
    mode: diffview.Mode | None = None,
) -> dict[str, Any]:
    """As `diff_context`, for any version of any source against any version of
    any source (a superseding file against its predecessor's last version).
    The signals use the watch terms of the newer side's source."""
    texts: list[str] = []

    def differ(old_text: str, new_text: str) -> models.Change | None:
        texts[:] = [old_text, new_text]
        return cached_diff(old_text, new_text)

    old_v, new_v, change = queries.compare_any(store, old, new, differ=differ)
    data = _shape(store, new_v.source_id, old_v, new_v, change, texts, page, config, mode)
    data["old"]["source"], data["new"]["source"] = old_v.source_id, new_v.source_id
    return data


def _shape(
    store: Store,
    source_id: str,
    old_v: VersionRow,
    new_v: VersionRow,
    change: models.Change | None,
    texts: list[str],
    page: int,
    config: Config | None,
    mode: diffview.Mode | None,
) -> dict[str, Any]:
    """Two versions and their diff, shaped for the pages: the view, the analysis."""
    old_text, new_text = texts
    view = diffview.build(change, new_text, page=page, mode=mode) if change else None
    analysis = None
    too_long = False
    if change is not None:
        if len(change.hunks) > ANALYSIS_MAX_HUNKS:
            too_long = True
        else:
            settings = config.analysis if config else AnalysisSettings()
            terms = queries.watch_terms(config, store, source_id) if config else ()
            analysis = _analysis(
                old_text,
                new_text,
                settings,
                terms,
                store.version_pages(old_v, old_text),
                store.version_pages(new_v, new_text),
            )
        if analysis and view:
            analysis = copy.deepcopy(analysis)  # the cached one stays as it was
            where = {section.path: section for section in view.sections}
            for signal in analysis["signals"]:
                section = where.get(signal["section"])
                # the page of this diff (of the dashboard) its section is on
                signal["view_page"] = section.page if section else None
                signal["anchor"] = section.anchor if section else None
    return {
        "old": queries.version_dict(old_v),
        "new": queries.version_dict(new_v),
        "change": change,
        "view": view,
        "summary": detect.summary(change) if change else "",
        "analysis": analysis,
        "analysis_skipped": too_long,
        "analysis_max_hunks": ANALYSIS_MAX_HUNKS,
    }
