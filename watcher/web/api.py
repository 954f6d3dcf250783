"""The JSON API under /api/: sources, versions, tasks, diffs, compare, search.

Read-only; answers are `SafeJSONResponse` (`<`, `>` and `&` escaped, so a
scraped text stays inert even if pasted into HTML).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from watcher import detect, queries
from watcher.web.dashboard import (
    SafeJSONResponse,
    dashboard_of,
    date_param,
    int_param,
    query_param,
    version_of,
)
from watcher.web.diffs import cached_diff
from watcher.web.views import TASK_STATUSES, version_ref


def api_sources(request: Request) -> Response:
    return SafeJSONResponse({"sources": queries.sources(dashboard_of(request).store)})


def api_versions(request: Request) -> Response:
    return SafeJSONResponse(
        queries.history(dashboard_of(request).store, request.path_params["source_id"])
    )


def api_version(request: Request) -> Response:
    store = dashboard_of(request).store
    version = version_of(store, request.path_params["source_id"], request.path_params["number"])
    return SafeJSONResponse(
        {
            "source": version.source_id,
            **queries.version_dict(version),
            "url": version.url,
            "content_type": version.content_type,
            "text": store.version_text(version),
        }
    )


def api_tasks(request: Request) -> Response:
    status = query_param(request, "status")
    rows = queries.filter_tasks(
        dashboard_of(request).store,
        status=status if status in TASK_STATUSES else None,
        lab=query_param(request, "lab"),
        source_id=query_param(request, "source"),
        severity=query_param(request, "severity"),
        assignee=query_param(request, "assignee"),
    )
    return SafeJSONResponse({"tasks": rows})


def api_task(request: Request) -> Response:
    return SafeJSONResponse(
        queries.task(dashboard_of(request).store, request.path_params["task_id"])
    )


def api_diff(request: Request) -> Response:
    store = dashboard_of(request).store
    source_id = request.path_params["source_id"]
    old_v, new_v, change = queries.compare(
        store, source_id, int_param(request, "old"), int_param(request, "new"), differ=cached_diff
    )
    return SafeJSONResponse(
        {
            "source": source_id,
            "old": queries.version_dict(old_v),
            "new": queries.version_dict(new_v),
            "summary": detect.summary(change) if change else "no change",
            "change": detect.change_to_json(change) if change else None,
        }
    )


def api_compare(request: Request) -> Response:
    """GET /api/compare?old=SOURCE@VERSION&new=SOURCE@VERSION: the /compare page's diff."""
    store = dashboard_of(request).store
    old, new = version_ref(request, "old"), version_ref(request, "new")
    if old is None or new is None:
        raise HTTPException(400, "compare two sides: old=SOURCE@VERSION and new=SOURCE@VERSION")
    old_v, new_v, change = queries.compare_any(store, old, new, differ=cached_diff)
    return SafeJSONResponse(
        {
            "old": {"source": old_v.source_id, **queries.version_dict(old_v)},
            "new": {"source": new_v.source_id, **queries.version_dict(new_v)},
            "summary": detect.summary(change) if change else "no change",
            "change": detect.change_to_json(change) if change else None,
        }
    )


def api_search(request: Request) -> Response:
    store = dashboard_of(request).store
    text = request.query_params.get("q", "").strip()[:500]
    if text:
        store.index_versions()
    data = queries.search(
        store,
        text,
        lab=query_param(request, "lab"),
        source_id=query_param(request, "source"),
        since=date_param(request, "since"),
        until=date_param(request, "until"),
    )
    for result in data["results"]:
        result["snippet"] = [{"text": text, "match": match} for text, match in result["snippet"]]
    return SafeJSONResponse(data)
