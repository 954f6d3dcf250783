"""The dashboard's and the API's "check now": the check `watcher check SOURCE` runs.

The check (`pipeline.run_pass` for one source: fetch, extract, record, then
reminders and due alerts) runs in a worker thread with its own event loop
and its own database connection, so the server keeps answering other
requests meanwhile. One check at a time per source: a second is refused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import anyio.to_thread

from watcher.errors import WatcherError
from watcher.models import CheckOutcome
from watcher.store import Store
from watcher.web.dashboard import Dashboard

log = logging.getLogger(__name__)


class CheckRunning(WatcherError):
    """A check of this source is already running."""


@dataclass(frozen=True)
class CheckResult:
    """What a check now came to, for a page or a JSON answer."""

    source: str
    outcome: str  # new_version, unchanged, not_modified, suspect, failed
    version: int | None = None
    task: int | None = None
    error: str | None = None
    warning: str | None = None

    @property
    def message(self) -> str:
        if self.outcome == "new_version":
            task = f"; task {self.task} opened or extended" if self.task is not None else ""
            return f"New version v{self.version}{task}."
        if self.outcome in ("unchanged", "not_modified"):
            return "No change since the last version."
        if self.outcome == "suspect":
            return f"Suspect, not recorded: {self.warning or 'see the checks below'}"
        return f"Failed: {self.error or 'see the checks below'}"

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "version": self.version,
            "task": self.task,
            "error": self.error,
            "warning": self.warning,
            "message": self.message,
        }


async def check_now(dash: Dashboard, source_id: str) -> CheckResult:
    """Check `source_id` once now; CheckRunning when a check of it already runs,
    NotFound for an unknown source."""
    dash.store.require_source(source_id)
    with dash.checking_lock:
        if source_id in dash.checking:
            raise CheckRunning(f"a check of {source_id} is already running; wait for its result")
        dash.checking.add(source_id)
    try:
        outcome = await anyio.to_thread.run_sync(_run, dash, source_id)
    finally:
        with dash.checking_lock:
            dash.checking.discard(source_id)
    log.info("check now %s: %s", source_id, outcome.outcome)
    return CheckResult(
        source=source_id,
        outcome=outcome.outcome,
        version=outcome.version,
        task=outcome.task_id,
        error=outcome.error,
        warning=outcome.warning,
    )


def _run(dash: Dashboard, source_id: str) -> CheckOutcome:
    from watcher.pipeline import run_pass  # the fetch and extract stack loads on first use

    with Store.open(dash.config.watcher.state_dir) as store:
        result, _ = asyncio.run(run_pass(dash.config, store, only=[source_id]))
    for outcome in result.outcomes:
        if outcome.source_id == source_id:
            return outcome
    return CheckOutcome(source_id=source_id, outcome="failed", error="the source was not checked")
