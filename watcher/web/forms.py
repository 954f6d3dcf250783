"""The POST forms: task actions (assign, close, dismiss, reopen), lineage fixes
(link, unlink) and sign-in.

Every form carries an HMAC-signed double-submit CSRF token (`Dashboard.csrf_ok`);
a refused action shows the task page again with the reason (409); sign-in
redirects only to a path on this site.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from watcher import criteria, escape, review
from watcher.errors import CitationError, LineageError, NotFound, TaskStateError
from watcher.succession import link_documents, unlink_document
from watcher.web.checks import CheckRunning, check_now
from watcher.web.dashboard import SESSION_COOKIE, Dashboard, dashboard_of, visitor_of
from watcher.web.views import QUOTE_MAX, source_context, task_context, version_context

log = logging.getLogger(__name__)


async def checked_form(request: Request, dash: Dashboard) -> FormData:
    """The posted form, once its CSRF token shows it came from this dashboard."""
    form = await request.form()
    if not dash.csrf_ok(request, form):
        raise HTTPException(
            403,
            "This form has expired or did not come from this dashboard: "
            "reload the page and try again.",
        )
    return form


def task_action(name: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        dash = dashboard_of(request)
        task_id: int = request.path_params["task_id"]
        form = await checked_form(request, dash)
        fields = {key: str(form.get(key, "")) for key in ("who", "note")}
        actor = visitor_of(request).actor("dashboard")

        def act() -> Response:
            store = dash.store
            try:
                if name == "assign":
                    review.assign(store, task_id, fields["who"], actor=actor, config=dash.config)
                elif name == "close":
                    review.close(store, task_id, fields["note"], actor=actor, config=dash.config)
                elif name == "dismiss":
                    review.dismiss(store, task_id, fields["note"], actor=actor, config=dash.config)
                else:
                    review.reopen(store, task_id, actor=actor, config=dash.config)
            except TaskStateError as exc:
                context = task_context(store, task_id, config=dash.config)
                context.update(error=str(exc), form={"action": name, **fields})
                return dash.render(request, "task.html", context, status=409)
            return RedirectResponse(f"/tasks/{task_id}", status_code=303)

        return await run_in_threadpool(act)

    return endpoint


def lineage_action(name: str) -> Callable[[Request], Any]:
    """POST /sources/{id}/link (field `old`) and /sources/{id}/unlink: a rater's
    lineage fix, as `watcher lineage link/unlink` makes it."""

    async def endpoint(request: Request) -> Response:
        dash = dashboard_of(request)
        source_id: str = request.path_params["source_id"]
        form = await checked_form(request, dash)
        old = str(form.get("old", "")).strip()
        actor = visitor_of(request).actor("dashboard")

        def act() -> Response:
            store = dash.store
            store.require_source(source_id)  # an unknown source is a 404, not a 409
            try:
                if name == "link":
                    if not old:
                        raise LineageError("pick the document this one is the next version of")
                    fix = link_documents(dash.config, store, old, source_id, actor=actor)
                else:
                    fix = unlink_document(store, source_id, actor=actor)
            except (LineageError, NotFound) as exc:
                context = source_context(store, source_id)
                context["error"] = str(exc)
                return dash.render(request, "source.html", context, status=409)
            log.info("dashboard lineage %s %s: %s", name, source_id, fix.message)
            return RedirectResponse(f"/sources/{source_id}", status_code=303)

        return await run_in_threadpool(act)

    return endpoint


async def cite_submit(request: Request) -> Response:
    """POST /sources/{id}/versions/{n}/cite: cite a passage of the source's latest
    version for a criterion of its lab, as `watcher cite add` does."""
    dash = dashboard_of(request)
    source_id: str = request.path_params["source_id"]
    number: int = request.path_params["number"]
    form = await checked_form(request, dash)
    fields = {
        key: str(form.get(key, "")).strip()[:QUOTE_MAX]
        for key in ("quote", "criterion", "note", "section")
    }
    actor = visitor_of(request).actor("dashboard")

    def act() -> Response:
        store = dash.store
        context = version_context(store, source_id, number)  # 404 for an unknown version
        try:
            if context["latest"] != number:
                raise CitationError(
                    f"v{number} is no longer the latest version: cite on "
                    f"v{context['latest']}, whose text may differ"
                )
            row = criteria.add(
                store,
                source_id,
                criterion=fields["criterion"],
                quote=fields["quote"],
                note=fields["note"] or None,
                section=fields["section"] or None,
                actor=actor,
            )
        except CitationError as exc:
            message = str(exc).replace("with --section", "in the Section field")
            message = message.replace("(--criterion)", "")
            context.update(error=message.strip(), form=fields)
            return dash.render(request, "version.html", context, status=409)
        log.info(
            "dashboard cite %s: citation %d for %s",
            source_id,
            row["id"],
            escape.quote(row["criterion"]),
        )
        lab = quote(row["lab"], safe="")
        return RedirectResponse(f"/labs/{lab}/criteria#citation-{row['id']}", status_code=303)

    return await run_in_threadpool(act)


async def check_submit(request: Request) -> Response:
    """POST /sources/{id}/check: check the source now, as `watcher check SOURCE` does,
    and show its page with the result."""
    dash = dashboard_of(request)
    source_id: str = request.path_params["source_id"]
    await checked_form(request, dash)
    status = 200
    try:
        result = await check_now(dash, source_id)
        outcome: dict[str, Any] = {"ok": result.outcome != "failed", "message": result.message}
    except CheckRunning as exc:
        status = 409
        outcome = {"ok": False, "message": str(exc)}
    context = await run_in_threadpool(source_context, dash.store, source_id)
    context["check_result"] = outcome
    return dash.render(request, "source.html", context, status=status)


def login_page(request: Request) -> Response:
    dash = dashboard_of(request)
    return dash.render(
        request,
        "login.html",
        {"error": None, "next": _local_path(request.query_params.get("next", "/"))},
    )


def _local_path(target: str) -> str:
    """`target` when it is a path on this site, else "/": sign-in never redirects elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_submit(request: Request) -> Response:
    dash = dashboard_of(request)
    form = await request.form()
    if not dash.csrf_ok(request, form):
        raise HTTPException(403, "This form has expired: reload the page and try again.")
    sent = str(form.get("token", ""))
    target = _local_path(str(form.get("next", "/")))
    found = dash.match_token(sent) if sent else None
    if found is None:
        return dash.render(
            request, "login.html", {"error": "That token is not right.", "next": target}, 401
        )
    log.info("dashboard: %s signed in", found.name or "the shared token")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        dash.session_value(found.name),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response
