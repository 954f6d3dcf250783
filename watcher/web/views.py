"""The read pages: overview, source, diff, compare, snapshots, tasks, task, search.

Each endpoint reads through `watcher.queries` and renders a template; raw
snapshots and texts are downloads in a sandbox, never pages of our origin.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from watcher import queries
from watcher.config import Config
from watcher.errors import NotFound
from watcher.store import Store
from watcher.web import diffview
from watcher.web.dashboard import (
    dashboard_of,
    date_param,
    int_param,
    query_param,
    version_of,
    visitor_of,
)
from watcher.web.diffs import compare_context, diff_context
from watcher.web.security import CSP_SANDBOX

# A content type as stored from a server's header: kept only when it is a plain token pair.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_CHARSET = re.compile(r"[a-z0-9][a-z0-9_.:+-]{0,39}")
_EXTENSIONS = {"application/pdf": ".pdf", "text/html": ".html", "text/plain": ".txt"}


def overview_page(request: Request) -> Response:
    dash = dashboard_of(request)
    data = queries.overview(
        dash.store, lab=query_param(request, "lab"), status=query_param(request, "status")
    )
    return dash.render(
        request,
        "overview.html",
        {
            **data,
            "lab": query_param(request, "lab") or "",
            "status": query_param(request, "status") or "",
        },
    )


def source_context(store: Store, source_id: str) -> dict[str, Any]:
    data = queries.source_detail(store, source_id)
    lab = data["source"]["lab"]
    # a rater's fix: the lab's other documents this one may be the next version of
    data["link_choices"] = [
        {"id": row["id"], "title": row["title"]}
        for row in store.sources(include_inactive=True)
        if row["lab"] == lab
        and row["id"] != source_id
        and row["id"] != data["source"]["supersedes"]
    ]
    return {**data, "error": None, "check_result": None}


def source_page(request: Request) -> Response:
    dash = dashboard_of(request)
    data = source_context(dash.store, request.path_params["source_id"])
    return dash.render(request, "source.html", data)


def version_ref(request: Request, name: str) -> queries.VersionRef | None:
    """A `SOURCE@VERSION` query parameter (None when absent); 400 when malformed."""
    value = query_param(request, name)
    if value is None:
        return None
    try:
        return queries.parse_version_ref(value[:300])
    except ValueError as exc:
        raise HTTPException(400, f"{name}: {exc}") from None


def compare_page(request: Request) -> Response:
    """Any version of any source against any other, picked across a lab's sources."""
    dash = dashboard_of(request)
    store = dash.store
    mode: diffview.Mode = "inline" if request.query_params.get("view") == "inline" else "side"
    old, new = version_ref(request, "old"), version_ref(request, "new")
    lab = query_param(request, "lab")
    diff: dict[str, Any] | None = None
    link = "?"
    if old is not None and new is not None:
        diff = compare_context(
            store, old, new, page=int_param(request, "page") or 1, config=dash.config, mode=mode
        )
        if lab is None:
            lab = store.require_source(diff["new"]["source"])["lab"]
        sides = "&".join(
            f"{side}=" + quote(f"{diff[side]['source']}@{diff[side]['number']}", safe="@")
            for side in ("old", "new")
        )
        link = f"?{sides}&view={mode}&"
    elif old is not None or new is not None:
        raise HTTPException(400, "compare two sides: old=SOURCE@VERSION and new=SOURCE@VERSION")
    labs = sorted({row["lab"] for row in store.sources(include_inactive=True)})
    titles = {row["id"]: row["title"] for row in store.sources(include_inactive=True)}
    return dash.render(
        request,
        "compare.html",
        {
            "diff": diff,
            "lab": lab or "",
            "labs": labs,
            "titles": titles,
            "choices": queries.version_choices(store, lab) if lab else [],
            "mode": mode,
            "link": link,
        },
    )


def diff_page(request: Request) -> Response:
    dash = dashboard_of(request)
    mode: diffview.Mode = "inline" if request.query_params.get("view") == "inline" else "side"
    source_id = request.path_params["source_id"]
    source = dash.store.require_source(source_id)
    data = diff_context(
        dash.store,
        source_id,
        int_param(request, "old"),
        int_param(request, "new"),
        page=int_param(request, "page") or 1,
        config=dash.config,
        mode=mode,
    )
    link = f"?old={data['old']['number']}&new={data['new']['number']}&view={mode}&"
    return dash.render(request, "diff.html", {**data, "source": source, "mode": mode, "link": link})


def version_raw(request: Request) -> Response:
    """The stored raw snapshot, as a download that can never run in our origin."""
    dash = dashboard_of(request)
    source_id = request.path_params["source_id"]
    version = version_of(dash.store, source_id, request.path_params["number"])
    data = dash.store.get_blob(version.raw_sha256)
    media = (version.content_type or "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(media):
        media = "application/octet-stream"
    name = f"{source_id}-v{version.number}{_EXTENSIONS.get(media, '.bin')}"
    charset = (version.charset or "").lower()
    return Response(
        data,
        # the charset the server named (without one, Starlette names utf-8 for text/*)
        media_type=f"{media}; charset={charset}" if _CHARSET.fullmatch(charset) else media,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "content-security-policy": CSP_SANDBOX,
        },
    )


QUOTE_MAX = 5000  # characters of a quote a form takes


def version_context(store: Store, source_id: str, number: int) -> dict[str, Any]:
    """A version's page: its text, and the form to cite a passage (on the latest version)."""
    source = store.require_source(source_id)
    version = version_of(store, source_id, number)
    latest = store.latest_version(source_id)
    return {
        "source": source,
        "version": queries.version_dict(version),
        "text": store.version_text(version),
        "latest": latest.number if latest is not None else None,
        "criterion_names": queries.criterion_names(store, source["lab"] or ""),
        "form": {"quote": "", "criterion": "", "note": "", "section": ""},
        "error": None,
    }


def version_page(request: Request) -> Response:
    dash = dashboard_of(request)
    context = version_context(
        dash.store, request.path_params["source_id"], request.path_params["number"]
    )
    context["form"]["quote"] = request.query_params.get("quote", "")[:QUOTE_MAX]
    return dash.render(request, "version.html", context)


def version_text(request: Request) -> Response:
    dash = dashboard_of(request)
    version = version_of(
        dash.store, request.path_params["source_id"], request.path_params["number"]
    )
    return PlainTextResponse(
        dash.store.version_text(version), headers={"content-security-policy": CSP_SANDBOX}
    )


def criteria_page(request: Request) -> Response:
    """A lab's graded criteria: each citation's status, quote and new passage, with links."""
    dash = dashboard_of(request)
    store = dash.store
    data = queries.lab_criteria(store, request.path_params["lab"])
    titles = {row["id"]: row["title"] for row in store.sources(include_inactive=True)}
    return dash.render(request, "criteria.html", {**data, "titles": titles})


TASK_STATUSES = ("open", "closed", "dismissed")


def tasks_page(request: Request) -> Response:
    dash = dashboard_of(request)
    status = request.query_params.get("status", "open")
    me = visitor_of(request).name
    mine = bool(me) and query_param(request, "mine") is not None
    filters = {
        "status": status if status in TASK_STATUSES else None,
        "lab": query_param(request, "lab"),
        "source_id": query_param(request, "source"),
        "severity": query_param(request, "severity"),
        "assignee": me if mine else query_param(request, "assignee"),
    }
    rows = queries.filter_tasks(dash.store, **filters)
    labs = sorted({row["lab"] for row in dash.store.sources(include_inactive=True)})
    return dash.render(
        request,
        "tasks.html",
        {
            "tasks": rows,
            "labs": labs,
            "filters": {**filters, "status": filters["status"] or "all", "mine": mine},
            "statuses": TASK_STATUSES,
        },
    )


def task_context(
    store: Store, task_id: int, page: int = 1, config: Config | None = None
) -> dict[str, Any]:
    task = queries.task(store, task_id)
    source = store.require_source(task["source"])
    diff: dict[str, Any] | None
    try:
        diff = diff_context(
            store,
            task["source"],
            task["from_version"],
            task["to_version"],
            page=page,
            config=config,
            mode="side",  # the task page shows the side-by-side view
        )
    except NotFound:
        diff = None
    # each superseding document's change, against its predecessor's last version
    across = []
    for document in task["documents"]:
        if not document.get("supersedes") or document.get("old_version") is None:
            continue
        sides = (
            (document["supersedes"], document["old_version"]),
            (document["source"], document["version"]),
        )
        try:
            shown = compare_context(store, *sides, config=config, mode="side")
        except NotFound:
            continue
        ref = "&".join(
            f"{side}=" + quote(f"{ref[0]}@{ref[1]}", safe="@")
            for side, ref in zip(("old", "new"), sides, strict=True)
        )
        across.append({"document": document, "diff": shown, "link": f"/compare?{ref}&"})
    return {
        "task": task,
        "source": source,
        "diff": diff,
        "across": across,
        "error": None,
        "form": {},
        "link": "?",
    }


def task_page(request: Request) -> Response:
    dash = dashboard_of(request)
    page = int_param(request, "page") or 1
    return dash.render(
        request,
        "task.html",
        task_context(dash.store, request.path_params["task_id"], page, dash.config),
    )


def search_page(request: Request) -> Response:
    dash = dashboard_of(request)
    store = dash.store
    text = request.query_params.get("q", "").strip()[:500]
    filters = {
        "lab": query_param(request, "lab"),
        "source_id": query_param(request, "source"),
        "since": date_param(request, "since"),
        "until": date_param(request, "until"),
    }
    results: dict[str, Any] = {"query": text, "results": []}
    if text:
        store.index_versions()
        results = queries.search(store, text, **filters)
    overview = queries.sources(store)
    return dash.render(
        request,
        "search.html",
        {
            **results,
            "filters": {k: v or "" for k, v in filters.items()},
            "labs": sorted({row["lab"] for row in overview}),
            "all_sources": [(row["id"], row["title"]) for row in overview],
        },
    )
