"""`watcher run`: check each source on its schedule, for months, until stopped.

One APScheduler `AsyncIOScheduler` in the main process, on the running event
loop, holds one job per source (its `interval`, or its `cron` in UTC) and
the daemon's own jobs: deliver the outbox, queue reminders and digests,
prune old check rows, write a heartbeat. Every job is `async def`: APScheduler
runs plain functions in a thread pool, and the database connection belongs
to the loop's thread.

The schedule is rebuilt from config.toml at every start and reload, with
each source's next check computed from its last check in the database
(`due_at`), so a restart neither re-checks everything at once nor skips an
overdue source; overdue and new sources start within half a minute of starting,
each at its own stable offset (daemon_schedule.py, pure functions). One
daemon per `state_dir`, enforced by an flock on `state_dir/watcher.lock`
(daemon_lock.py; released by the OS however the process dies).
SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config.

    run_daemon(config, once=False) -> exit status    (raises AlreadyRunning)
    daemon_status(config, store)    -> what `watcher status` shows
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import multiprocessing.forkserver
import os
import signal
from collections.abc import Coroutine, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher import clock, logs
from watcher.browser import Browser
from watcher.config import Config, EmailChannel, SlackChannel, SourceConfig, load_config
from watcher.daemon_lock import AlreadyRunning, DaemonLock, lock_holder
from watcher.daemon_schedule import (
    SpreadIntervalTrigger,
    describe_schedule,
    due_at,
    first_run,
    format_duration,
    jitter,
    make_trigger,
    period,
    startup_delay,
)
from watcher.errors import ConfigError, WatcherError
from watcher.fetch import Fetcher
from watcher.models import Source
from watcher.notify.outbox import (
    Pacer,
    deliver_due,
    housekeeping,
    housekeeping_off_loop,
    reclaim_dead_claims,
)
from watcher.pipeline import (
    browser_settings,
    check_all,
    check_source,
    configured_source,
    fetch_settings,
    sync_sources,
)
from watcher.store import Store
from watcher.workers import WorkerPool

log = logging.getLogger(__name__)

__all__ = [
    "AlreadyRunning",
    "Daemon",
    "DaemonLock",
    "SpreadIntervalTrigger",
    "daemon_status",
    "due_at",
    "first_run",
    "format_duration",
    "jitter",
    "lock_holder",
    "make_trigger",
    "period",
    "run_daemon",
    "secret_values",
    "startup_delay",
]

DELIVER_EVERY_S = 30.0
HOUSEKEEPING_EVERY_S = 60.0  # reminders and the daily digest
PRUNE_EVERY_S = 86_400.0
HEARTBEAT_EVERY_S = 10.0
STALE_AFTER_S = 60.0  # `watcher status` calls a heartbeat older than this stale

MIN_MISFIRE_GRACE_S = 60.0  # APScheduler's default of 1 s silently skips late runs
FLUSH_TIMEOUT_S = 15.0  # the last delivery at shutdown may take this long
CANCEL_WAIT_S = 5.0

BACKLOG = ("pending", "sending", "failed", "held")  # outbox statuses `status` counts

META_PID = "daemon.pid"
META_STARTED = "daemon.started_at"
META_HEARTBEAT = "daemon.heartbeat_at"
META_CONFIG_ERROR = "daemon.config_error"  # hash of the reload problems already alerted

# --- the daemon -------------------------------------------------------------------


def secret_values(config: Config, environ: Mapping[str, str]) -> list[str]:
    """The values of every secret the config names, so logs can redact them."""
    names: list[str | None] = []
    for channel in config.channels.values():
        if isinstance(channel, SlackChannel):
            names.append(channel.webhook_url_env)
        elif isinstance(channel, EmailChannel):
            names += [channel.username_env, channel.password_env]
    names.append(config.dashboard.auth_token_env)
    return [environ[name] for name in names if name and environ.get(name)]


def run_daemon(config: Config, *, once: bool = False) -> int:
    """Run until SIGTERM/SIGINT (or one pass of due sources with `once`); return the exit status.

    Raises AlreadyRunning when another daemon holds the state folder.
    """
    lock = DaemonLock.acquire(config.watcher.state_dir)
    try:
        _shield_workers_from_ctrl_c()
        _quiet_scheduler_logs()
        logs.redact(secret_values(config, os.environ))
        return asyncio.run(_main(config, once=once))
    finally:
        lock.release()


def _shield_workers_from_ctrl_c() -> None:
    # Ctrl-C sends SIGINT to the whole process group: the worker processes
    # would die mid-extraction and their checks be recorded as failures. The
    # pool forks its workers from the forkserver, which hands them the SIGINT
    # disposition it inherited: start it now, with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_scheduler_logs() -> None:
    # APScheduler logs two INFO lines per job run and warns about misses
    # itself; our listener says it once, in our words. At debug, let it talk.
    scheduler_log = logging.getLogger("apscheduler")
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        scheduler_log.setLevel(logging.ERROR)


async def _main(config: Config, *, once: bool) -> int:
    store = Store.open(config.watcher.state_dir)
    workers = WorkerPool()
    try:
        if once:
            return await _run_once(config, store, workers)
        daemon = Daemon(config, store, workers)
        return await daemon.run()
    finally:
        workers.close()
        store.close()


async def _run_once(config: Config, store: Store, workers: WorkerPool) -> int:
    """`run --once`: check what is due now, then reminders, digests and due alerts."""
    for line in config.warnings():
        log.warning("%s", line)
    sync_sources(config, store)
    now = clock.now()
    due = [source.id for source in config.sources if source.enabled and _is_due(source, store, now)]
    log.info("%d of %d sources due", len(due), len(config.sources))
    if due:
        await check_all(config, store, only=due, workers=workers)
    housekeeping(config, store)
    await deliver_due(config, store)
    return 0


def _last_checked(store: Store, source_id: str) -> datetime | None:
    row = store.source(source_id)
    return clock.parse_iso(row["last_checked"]) if row and row["last_checked"] else None


def _is_due(source: SourceConfig, store: Store, now: datetime) -> bool:
    due = due_at(source, _last_checked(store, source.id))
    return due is None or due <= now


def _job_id(source_id: str) -> str:
    return f"source:{source_id}"


def _enabled_sources(config: Config) -> dict[str, Source]:
    return {cfg.id: configured_source(cfg) for cfg in config.sources if cfg.enabled}


class Daemon:
    """The running scheduler and what its jobs share: config, store, fetcher, workers.

    A scheduled check costs the same whatever the number of sources: the
    `sources` table is synced with the config and each `Source` built once,
    at start and at each reload, and a check works on its own source only
    (`pipeline.check_source`) with the long-lived fetcher, workers and store.
    """

    def __init__(self, config: Config, store: Store, workers: WorkerPool) -> None:
        self.config = config
        self.store = store
        self.workers = workers
        self.fetcher = Fetcher(fetch_settings(config))
        # Chromium starts on the first browser check and lives until the daemon stops.
        self.browser = Browser(browser_settings(config))
        self.scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": math.ceil(MIN_MISFIRE_GRACE_S),
            },
        )
        self.inflight: set[asyncio.Task[Any]] = set()
        self.background: set[asyncio.Task[Any]] = set()
        self.schedules: dict[str, tuple[float | None, str | None]] = {}
        self.sources: dict[str, Source] = {}  # what a scheduled check checks, by id
        self.stopping = asyncio.Event()
        self.forced = asyncio.Event()
        self.delivering = False
        self.deliver_again = False
        self.pacer = Pacer()  # channel pacing holds across delivery runs

    # -- life cycle --

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        await self.fetcher.__aenter__()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        dashboard: asyncio.Task[None] | None = None
        try:
            self._start()
            if self.config.dashboard.enabled:
                dashboard = asyncio.create_task(self._serve_dashboard())
            await self.stopping.wait()
            await self._shutdown()
        finally:
            if dashboard is not None:
                dashboard.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dashboard
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.fetcher.__aexit__(None, None, None)
            await self.browser.aclose()
        log.info("stopped")
        return 0

    async def _serve_dashboard(self) -> None:
        """The dashboard beside the scheduler; if it cannot start, checking goes on."""
        from watcher.web.app import serve

        try:
            await serve(self.config)
        except WatcherError as exc:
            log.error("the dashboard could not start: %s", exc.reason)

    def _start(self) -> None:
        config = self.config
        for line in config.warnings():
            log.warning("%s", line)
        sync_sources(config, self.store)
        self.sources = _enabled_sources(config)
        self.workers.start()  # once, for the daemon's life: no check waits for their start-up
        now = clock.now()
        self.store.set_meta(META_PID, str(os.getpid()))
        # Alerts a killed deliverer was sending go out now, not after the lease.
        reclaim_dead_claims(self.store, starting=True)
        self.store.set_meta(META_STARTED, clock.iso(now))
        self.store.set_meta(META_HEARTBEAT, clock.iso(now))
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
        )
        self.scheduler.start()
        self._schedule_sources(config, now)
        self._every(
            "heartbeat",
            self._heartbeat,
            HEARTBEAT_EVERY_S,
            now + timedelta(seconds=HEARTBEAT_EVERY_S),
        )
        self._every("deliver", self._deliver, DELIVER_EVERY_S, now + timedelta(seconds=2))
        self._every(
            "housekeeping", self._housekeeping, HOUSEKEEPING_EVERY_S, now + timedelta(seconds=5)
        )
        self._every("prune", self._prune, PRUNE_EVERY_S, now + timedelta(seconds=60))
        log.info(
            "watching %d sources from %s (state in %s, pid %d)",
            len(self.schedules), config.path, config.watcher.state_dir, os.getpid(),
        )  # fmt: skip

    def _every(self, job_id: str, func: Any, seconds: float, first: datetime) -> None:
        self.scheduler.add_job(
            func,
            trigger=IntervalTrigger(seconds=seconds, start_date=first, timezone=UTC),
            id=job_id,
            name=job_id,
            next_run_time=first,
            replace_existing=True,
        )

    def request_stop(self, sig: signal.Signals) -> None:
        if self.stopping.is_set():
            log.warning("%s again: cancelling the running checks now", sig.name)
            self.forced.set()
            return
        log.info(
            "%s: stopping; running checks have %s to finish",
            sig.name, format_duration(self.config.watcher.shutdown_grace),
        )  # fmt: skip
        self.stopping.set()

    async def _shutdown(self) -> None:
        """Stop new work, let running jobs finish within the grace period, flush the outbox."""
        self.scheduler.pause()
        pending = {task for task in self.inflight if not task.done()}
        if pending:
            await self._wait(pending, self.config.watcher.shutdown_grace)
        pending = {task for task in self.inflight if not task.done()}
        if pending:
            log.warning("cancelling %d job(s) still running after the grace period", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=CANCEL_WAIT_S)
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        for task in self.background:
            task.cancel()
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                report = await deliver_due(self.config, self.store, pacer=self.pacer)
            if report.attempted:
                log.info("flushed the outbox: %d sent, %d to retry, %d failed",
                         report.sent, report.retrying, report.failed)  # fmt: skip
        except TimeoutError:
            log.warning("the last delivery took over %.0fs; unsent alerts wait for the next start",
                        FLUSH_TIMEOUT_S)  # fmt: skip
        except WatcherError as exc:
            log.error("the last delivery failed: %s", exc.reason)

    async def _wait(self, pending: set[asyncio.Task[Any]], grace: float) -> None:
        """Wait for `pending` until done, `grace` seconds passed or a second signal came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        forced = asyncio.ensure_future(self.forced.wait())
        try:
            while pending and not forced.done():
                left = deadline - loop.time()
                if left <= 0:
                    break
                done, _ = await asyncio.wait(
                    pending | {forced}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                pending -= done
        finally:
            forced.cancel()

    # -- the schedule --

    def _schedule_sources(self, config: Config, now: datetime) -> None:
        """Make the source jobs agree with `config`: add, remove, reschedule."""
        wanted = {source.id: source for source in config.sources if source.enabled}
        for source_id in list(self.schedules):
            if source_id not in wanted:
                self.scheduler.remove_job(_job_id(source_id))
                del self.schedules[source_id]
                log.info("source %s is no longer scheduled", source_id)
        for source in wanted.values():
            key = (source.interval, source.cron)
            if self.schedules.get(source.id) == key:
                continue
            first = first_run(source, _last_checked(self.store, source.id), now)
            self.scheduler.add_job(
                self._check,
                trigger=make_trigger(source, first),
                args=[source.id],
                id=_job_id(source.id),
                name=f"check {source.id}",
                next_run_time=first,
                misfire_grace_time=math.ceil(max(MIN_MISFIRE_GRACE_S, period(source))),
                replace_existing=True,
            )
            verb = "rescheduled" if source.id in self.schedules else "scheduled"
            self.schedules[source.id] = key
            log.info("source %s %s %s, next check %s",
                     source.id, verb, describe_schedule(source), clock.iso(first))  # fmt: skip

    def reload(self) -> None:
        """SIGHUP: re-read config.toml; an invalid file keeps the running config."""
        if self.stopping.is_set():
            return
        old = self.config
        try:
            new = load_config(old.path)
        except ConfigError as exc:
            for line in exc.problems:
                log.error("config reload: %s", line)
            log.error("config reload refused: still running with the previous config")
            self._alert_config_error(exc.problems)
            return
        try:
            if new.watcher.state_dir != old.watcher.state_dir:
                log.warning("state_dir changed to %s: restart the daemon to use it",
                            new.watcher.state_dir)  # fmt: skip
            for line in new.warnings():
                log.warning("%s", line)
            logs.redact(secret_values(new, os.environ))
            sync_sources(new, self.store)
            self.config = new
            self.sources = _enabled_sources(new)
            self._schedule_sources(new, clock.now())
            if fetch_settings(new) != fetch_settings(old):
                self._background(self._replace_fetcher(new))
            self.store.set_meta(META_CONFIG_ERROR, "")
        except WatcherError as exc:
            log.error("config reload failed: %s", exc.reason)
            return
        log.info("config reloaded: %d sources scheduled", len(self.schedules))

    async def _replace_fetcher(self, config: Config) -> None:
        """New fetch settings: new checks get a new client; running ones keep the old one."""
        fetcher = Fetcher(fetch_settings(config))
        await fetcher.__aenter__()
        old, self.fetcher = self.fetcher, fetcher
        try:
            running = {task for task in self.inflight if not task.done()}
            if running:
                await asyncio.wait(running)
        finally:
            await old.__aexit__(None, None, None)
        log.info("new fetch settings in use")

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _alert_config_error(self, problems: list[str]) -> None:
        """Queue one alert to the admin channels per distinct set of problems."""
        digest = hashlib.sha256("\n".join(problems).encode("utf-8")).hexdigest()
        config = self.config
        admin = config.watcher.admin_notify
        channels = admin if admin is not None else _all_channels(config)
        payload = {
            "source_id": "config",
            "lab": "watcher",
            "title": f"{config.label} could not be reloaded; the daemon keeps the previous config",
            "url": str(config.path),
            "error": "; ".join(problems),
        }
        try:
            with self.store.transaction():
                if self.store.meta(META_CONFIG_ERROR) == digest:
                    return
                for channel in channels:
                    self.store.enqueue(kind="failing", channel=channel, payload=payload)
                self.store.set_meta(META_CONFIG_ERROR, digest)
        except WatcherError as exc:
            log.error("could not queue the config error alert: %s", exc.reason)
            return
        self._wake_delivery()

    # -- jobs (all async: APScheduler runs plain functions in threads) --

    async def _guard(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one job's work, tracked for shutdown; its failure is a log line, not a crash."""
        task = asyncio.current_task()
        if task is not None:
            self.inflight.add(task)
        try:
            await work
        except asyncio.CancelledError:
            # ours, at shutdown: re-raising would make APScheduler log a traceback
            log.warning("%s cancelled: the daemon is stopping", what)
        except WatcherError as exc:
            log.error("%s failed: %s", what, exc.reason)
        except Exception:
            log.exception("%s failed unexpectedly", what)
        finally:
            if task is not None:
                self.inflight.discard(task)

    async def _check(self, source_id: str) -> None:
        await self._guard(f"check of {source_id}", self._check_source(source_id))

    async def _check_source(self, source_id: str) -> None:
        source = self.sources.get(source_id)
        if source is None:
            return  # removed by a reload while this run was queued
        result = await check_source(
            self.config, self.store, self.fetcher, self.workers, source, self.browser
        )
        # a change or a failure may have queued an alert: send it now, not in 30 s
        if any(item.outcome in ("new_version", "failed") for item in result.outcomes):
            self._wake_delivery()

    def _wake_delivery(self) -> None:
        if self.stopping.is_set():
            return
        if self.delivering:
            self.deliver_again = True
            return
        job = self.scheduler.get_job("deliver")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    async def _deliver(self) -> None:
        await self._guard("delivery", self._deliver_until_done())

    async def _deliver_until_done(self) -> None:
        self.delivering = True
        try:
            while True:
                self.deliver_again = False
                await deliver_due(self.config, self.store, pacer=self.pacer)
                if not self.deliver_again or self.stopping.is_set():
                    break
        finally:
            self.delivering = False

    async def _housekeeping(self) -> None:
        await self._guard("housekeeping", housekeeping_off_loop(self.config, self.store))

    async def _prune(self) -> None:
        await self._guard("pruning", self._prune_checks())

    async def _prune_checks(self) -> None:
        before = clock.now() - timedelta(seconds=self.config.watcher.keep_checks)
        removed = self.store.prune_checks(clock.iso(before))
        if removed:
            log.info("pruned %d check rows from before %s", removed, clock.iso(before))

    async def _heartbeat(self) -> None:
        await self._guard(
            "heartbeat", _sync(self.store.set_meta, META_HEARTBEAT, clock.iso(clock.now()))
        )

    def _on_event(self, event: JobEvent) -> None:
        job = self.scheduler.get_job(event.job_id)
        name = job.name if job is not None else event.job_id
        if event.code == EVENT_JOB_MISSED:
            log.warning("%s missed its run at %s", name, getattr(event, "scheduled_run_time", "?"))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("%s is still running; the run due now is skipped", name)
        elif event.code == EVENT_JOB_ERROR:
            log.error("%s failed: %r", name, getattr(event, "exception", None))


async def _sync(func: Any, *args: Any) -> None:
    """A synchronous call as a coroutine, on the loop's thread (the store's thread)."""
    func(*args)


def _all_channels(config: Config) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for source in config.sources:
        seen.update(dict.fromkeys(source.notify))
    return tuple(seen)


# --- health: what `watcher status` shows -------------------------------------------


def daemon_status(config: Config, store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Whether a daemon runs on the state folder and is well, with the schedule and backlog.

    `healthy` is false when no daemon holds the lock or its heartbeat is older
    than STALE_AFTER_S; `problems` says why, one line each.
    """
    moment = now or clock.now()
    state_dir = config.watcher.state_dir
    running, pid = lock_holder(state_dir)
    heartbeat = store.meta(META_HEARTBEAT)
    counts = store.notification_counts()
    age = (moment - clock.parse_iso(heartbeat)).total_seconds() if heartbeat else None
    stale = age is None or age > STALE_AFTER_S
    problems: list[str] = []
    if not running:
        problems.append(f"no watcher is running on {state_dir}")
    elif stale:
        seen = f"{format_duration(max(age, 0))} old" if age is not None else "missing"
        problems.append(
            f"the heartbeat is {seen} (stale after {format_duration(STALE_AFTER_S)}): "
            f"the daemon (pid {pid}) may be stuck"
        )
    return {
        "healthy": running and not stale,
        "problems": problems,
        "daemon": {
            "running": running,
            "pid": pid if running else None,
            "started_at": store.meta(META_STARTED),
            "heartbeat_at": heartbeat,
            "heartbeat_age_s": age,
            "state_dir": str(state_dir),
        },
        "sources": list(_source_schedule(config, store, moment)),
        "failing": [
            {
                "id": row["id"],
                "consecutive_failures": row["consecutive_failures"],
                "last_checked": row["last_checked"],
                "last_error": row["last_error"],
            }
            for row in store.sources()
            if row["status"] == "failing"
        ],
        "outbox": {status: counts.get(status, 0) for status in BACKLOG},
    }


def _source_schedule(config: Config, store: Store, moment: datetime) -> Iterator[dict[str, Any]]:
    for source in config.sources:
        if not source.enabled:
            continue
        row = store.source(source.id)
        last = _last_checked(store, source.id)
        due = due_at(source, last)
        yield {
            "id": source.id,
            "schedule": describe_schedule(source),
            "status": row["status"] if row else "new",
            "last_checked": clock.iso(last) if last else None,
            "next_check": clock.iso(due) if due else None,
            "overdue": due is None or due <= moment,
        }
