"""The JSON API under /api/: sources, versions, tasks, diffs, compare, search;
and, for a token, task actions and "check now".

Answers are `SafeJSONResponse` (`<`, `>` and `&` escaped, so a scraped text
stays inert even if pasted into HTML). The write endpoints (POST) take a JSON
object and are authenticated only by `Authorization: Bearer TOKEN`, never by
the sign-in cookie, so no other site can make a browser call them: a rater's
token acts as that rater, the shared token as "api".
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from watcher import detect, queries, review
from watcher.errors import TaskStateError
from watcher.web.checks import CheckRunning, check_now
from watcher.web.dashboard import (
    SafeJSONResponse,
    Visitor,
    dashboard_of,
    date_param,
    int_param,
    query_param,
    version_of,
    visitor_of,
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


# --- writes: task actions and "check now", for a bearer token ---------------------

BODY_MAX = 64 * 1024
_FIELDS: dict[str, tuple[str, ...]] = {
    "assign": ("who",),
    "close": ("note",),
    "dismiss": ("note",),
    "reopen": (),
    "check": (),
}


def _writer(request: Request) -> Visitor:
    """The bearer of a token, or an HTTP error saying what is missing."""
    dash = dashboard_of(request)
    if not dash.has_tokens:
        raise HTTPException(
            403,
            "the write API needs a token: set [dashboard] auth_token_env or a rater's "
            "[dashboard.users] entry to an environment variable holding it, and send "
            "Authorization: Bearer TOKEN",
        )
    visitor = visitor_of(request)
    if not visitor.bearer:
        raise HTTPException(
            401,
            "send the token as Authorization: Bearer TOKEN (the sign-in cookie is not enough)",
            headers={"www-authenticate": 'Bearer realm="watcher"'},
        )
    return visitor


async def _body(request: Request, action: str) -> dict[str, str]:
    """The request's JSON object with the action's fields, each a string."""
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise HTTPException(413, f"the body is over {BODY_MAX // 1024} KB")
    data: Any = {}
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    allowed = _FIELDS[action]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "no fields"
        raise HTTPException(400, f"unknown field {unknown[0]!r} ({action} takes {known})")
    fields: dict[str, str] = {}
    for name in allowed:
        value = data.get(name)
        if not isinstance(value, str):
            got = "missing" if value is None else f"a {type(value).__name__}"
            raise HTTPException(400, f"{name!r} must be a string, got {got}")
        fields[name] = value
    return fields


def api_task_action(action: str) -> Any:
    """POST /api/tasks/{id}/assign ({"who"}), close and dismiss ({"note"}), reopen ({})."""

    async def endpoint(request: Request) -> Response:
        visitor = _writer(request)
        fields = await _body(request, action)
        task_id: int = request.path_params["task_id"]
        actor = visitor.actor("api")
        dash = dashboard_of(request)

        def act() -> Response:
            store = dash.store
            try:
                if action == "assign":
                    review.assign(store, task_id, fields["who"], actor=actor, config=dash.config)
                elif action in ("close", "dismiss"):
                    finish = review.close if action == "close" else review.dismiss
                    finish(store, task_id, fields["note"], actor=actor, config=dash.config)
                else:
                    review.reopen(store, task_id, actor=actor, config=dash.config)
            except TaskStateError as exc:
                store.task(task_id)  # an unknown task is a 404, whatever else is wrong
                return SafeJSONResponse({"error": str(exc), "status": 409}, status_code=409)
            return SafeJSONResponse(queries.task(store, task_id))

        return await run_in_threadpool(act)

    return endpoint


async def api_check(request: Request) -> Response:
    """POST /api/sources/{id}/check: check the source now; its outcome."""
    _writer(request)
    await _body(request, "check")
    try:
        result = await check_now(dashboard_of(request), request.path_params["source_id"])
    except CheckRunning as exc:
        return SafeJSONResponse({"error": str(exc), "status": 409}, status_code=409)
    return SafeJSONResponse(result.to_json())
