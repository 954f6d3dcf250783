"""`watcher run`: check each source when it is due, until stopped.

Each source is due `interval` after its last check (or at its next `cron`
time); the schedule is read from the database, so a restart neither
re-checks everything at once nor skips an overdue source. SIGTERM and SIGINT
stop the loop after the pass in progress.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from watcher import clock
from watcher.config import Config, SourceConfig
from watcher.fetch import Fetcher
from watcher.pipeline import check_all, fetch_settings
from watcher.store import Store
from watcher.workers import WorkerPool

log = logging.getLogger(__name__)

MAX_SLEEP_S = 60.0


def next_due(source: SourceConfig, last_checked: str | None, default_interval: float) -> datetime:
    """When `source` should next be checked, given its last check."""
    if last_checked is None:
        return clock.now()
    last = clock.parse_iso(last_checked)
    if source.cron:
        trigger = CronTrigger.from_crontab(source.cron, timezone="UTC")
        fire = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
        return fire if fire is not None else last + timedelta(days=365)
    return last + timedelta(seconds=source.interval or default_interval)


def due_sources(config: Config, store: Store, moment: datetime) -> tuple[list[str], datetime]:
    """The ids due at `moment`, and when the next one not yet due will be."""
    due: list[str] = []
    soonest = moment + timedelta(seconds=MAX_SLEEP_S)
    for source in config.sources:
        if not source.enabled:
            continue
        row = store.source(source.id)
        when = next_due(source, row["last_checked"] if row else None, config.watcher.default_interval)
        if when <= moment:
            due.append(source.id)
        else:
            soonest = min(soonest, when)
    return due, soonest


def run_daemon(config: Config, *, once: bool = False) -> int:
    """Run until SIGTERM/SIGINT (or one pass with `once`); return the exit status."""
    return asyncio.run(_main(config, once=once))


async def _main(config: Config, *, once: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    store = Store.open(config.watcher.state_dir)
    pool = WorkerPool()
    log.info("watching %d sources from %s", len(config.sources), config.path)
    try:
        async with Fetcher(fetch_settings(config)) as fetcher:
            while not stop.is_set():
                due, soonest = due_sources(config, store, clock.now())
                if due:
                    result = await check_all(config, store, only=due, fetcher=fetcher, workers=pool)
                    log.info(
                        "pass done: %d checked, %d failed", len(result.outcomes), len(result.failed)
                    )
                if once:
                    break
                delay = max(1.0, (soonest - clock.now()).total_seconds())
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(delay, MAX_SLEEP_S))
                except TimeoutError:
                    pass
    finally:
        pool.close()
        store.close()
    log.info("stopped")
    return 0
