"""The daemon: the schedule as pure functions, then `watcher run` as a real subprocess.

The subprocess tests run `python -m watcher run` against web sites and a
Slack stand-in on 127.0.0.1, with intervals of a few seconds, and read the
database it writes. They poll with deadlines; none sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import write_config
from tests.test_pipeline import SECTIONS, page
from watcher import clock
from watcher.config import SourceConfig
from watcher.daemon import (
    AlreadyRunning,
    DaemonLock,
    SpreadIntervalTrigger,
    due_at,
    first_run,
    format_duration,
    jitter,
    lock_holder,
    make_trigger,
    period,
    startup_delay,
)
from watcher.logs import REDACTED, JsonFormatter, RedactFilter
from watcher.store import Store

ROOT = Path(__file__).resolve().parent.parent
HOOK_ENV = "WATCHER_TEST_DAEMON_HOOK"
T0 = datetime(2026, 3, 2, 5, 59, 0, tzinfo=UTC)


def source(
    source_id: str = "s", *, interval: float | None = 3600.0, cron: str | None = None
) -> SourceConfig:
    return SourceConfig(
        id=source_id,
        lab="Acme",
        title="T",
        url="https://example.org/",
        interval=interval,
        cron=cron,
    )


# --- the schedule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "last", "due"),
    [
        ({"interval": 3600.0}, T0, T0 + timedelta(hours=1)),
        ({"interval": 2.0}, T0, T0 + timedelta(seconds=2)),
        ({"interval": None, "cron": "0 */6 * * *"}, T0, datetime(2026, 3, 2, 6, 0, tzinfo=UTC)),
        # checked right at the cron time: the next one is the following slot
        (
            {"interval": None, "cron": "0 */6 * * *"},
            datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
            datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        ),
        # T0 is a Monday morning: this Monday's slot, then next Monday's
        ({"interval": None, "cron": "30 9 * * mon"}, T0, datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            {"interval": None, "cron": "30 9 * * mon"},
            datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
            datetime(2026, 3, 9, 9, 30, tzinfo=UTC),
        ),
        ({"interval": 3600.0}, None, None),  # never checked
    ],
)
def test_due_at_counts_from_the_last_check(
    schedule: dict[str, Any], last: datetime | None, due: datetime | None
) -> None:
    assert due_at(source(**schedule), last) == due


def test_first_run_keeps_a_future_due_time_and_starts_overdue_or_new_sources_soon() -> None:
    hourly = source("hourly")
    now = T0 + timedelta(minutes=10)
    assert first_run(hourly, T0, now) == T0 + timedelta(hours=1)  # not due: no extra check
    delay = startup_delay(hourly)
    assert 1.0 <= delay <= 31.0
    overdue = first_run(hourly, T0 - timedelta(days=3), now)
    assert overdue == now + timedelta(seconds=delay)  # overdue: soon, never skipped
    assert first_run(hourly, None, now) == overdue  # new: soon as well
    # a 2-second source starts within a second or two, not a minute later
    assert 1.0 <= startup_delay(source("fast", interval=2.0)) <= 2.0


def test_overdue_sources_start_spread_out_at_stable_offsets() -> None:
    sources = [source(f"lab-{n}-policy", interval=6 * 3600.0) for n in range(15)]
    delays = [startup_delay(s) for s in sources]
    assert all(1.0 <= d <= 31.0 for d in delays)
    assert len({int(d) for d in delays}) >= 10  # not all in the same second
    assert delays == [startup_delay(s) for s in sources]  # the same after a restart


@pytest.mark.parametrize(
    ("schedule", "expected_period", "expected_jitter"),
    [
        ({"interval": 2.0}, 2.0, 0.1),
        ({"interval": 3600.0}, 3600.0, 180.0),
        ({"interval": 6 * 3600.0}, 21600.0, 300.0),  # capped
        ({"interval": None, "cron": "0 */6 * * *"}, 21600.0, 300.0),
        ({"interval": None, "cron": "*/5 * * * *"}, 300.0, 15.0),
    ],
)
def test_period_and_jitter(
    schedule: dict[str, Any], expected_period: float, expected_jitter: float
) -> None:
    s = source(**schedule)
    assert period(s) == expected_period
    assert jitter(s) == pytest.approx(expected_jitter)


def test_interval_trigger_jitter_stays_within_bounds_and_does_not_drift() -> None:
    s = source(interval=60.0)
    trigger = make_trigger(s, T0)
    assert isinstance(trigger, SpreadIntervalTrigger)
    fire = T0
    for k in range(1, 200):
        fire = trigger.get_next_fire_time(fire, fire)
        nominal = T0 + timedelta(seconds=60 * k)
        assert nominal <= fire <= nominal + timedelta(seconds=jitter(s))


def test_cron_trigger_fires_at_cron_times_plus_bounded_jitter() -> None:
    s = source(interval=None, cron="0 */6 * * *")
    trigger = make_trigger(s, T0)
    fire = trigger.get_next_fire_time(None, T0)
    for _ in range(20):
        nominal = fire.replace(minute=0, second=0, microsecond=0)
        assert nominal.hour % 6 == 0
        assert nominal <= fire <= nominal + timedelta(seconds=300)
        fire = trigger.get_next_fire_time(fire, fire)


@pytest.mark.parametrize(
    ("seconds", "text"), [(2, "2s"), (90, "1m30s"), (21600, "6h"), (86400 + 60, "1d1m"), (0, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- lock, pruning, logs (in process) ----------------------------------------------------


def test_lock_is_exclusive_names_the_holder_and_is_released(tmp_path: Path) -> None:
    assert lock_holder(tmp_path) == (False, None)
    lock = DaemonLock.acquire(tmp_path)
    try:
        assert lock_holder(tmp_path) == (True, os.getpid())
        with pytest.raises(
            AlreadyRunning, match=rf"another watcher is running on .* \(pid {os.getpid()}\)"
        ):
            DaemonLock.acquire(tmp_path)
    finally:
        lock.release()
    assert lock_holder(tmp_path)[0] is False
    DaemonLock.acquire(tmp_path).release()  # free again


def test_prune_checks_removes_only_old_check_rows(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.upsert_source("s", url="https://example.org/", lab="Acme", title="T")
        for day in (1, 2, 3, 4):
            store.add_check(
                source_id="s", started_at=f"2026-01-0{day}T00:00:00Z", outcome="unchanged"
            )
        assert store.prune_checks("2026-01-03T00:00:00Z") == 2
        assert [row["started_at"][:10] for row in store.checks("s")] == ["2026-01-04", "2026-01-03"]
        assert store.prune_checks("2026-01-03T00:00:00Z") == 0


def test_json_log_lines_and_redaction() -> None:
    stream: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    redactor = RedactFilter()
    redactor.secrets = frozenset({"https://hooks.example/T0/B0/sekrit"})
    handler.addFilter(redactor)
    logger = logging.getLogger("tests.daemon.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "posting to %s failed", "https://hooks.example/T0/B0/sekrit", extra={"source": "x"}
        )
        try:
            raise ValueError("bad url https://hooks.example/T0/B0/sekrit")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream)
    assert first["message"] == f"posting to {REDACTED} failed"
    assert (first["level"], first["logger"], first["source"]) == (
        "warning",
        "tests.daemon.json",
        "x",
    )
    assert first["ts"].endswith("Z")
    assert "sekrit" not in second["exc"] and "ValueError" in second["exc"]


# --- the daemon as a subprocess --------------------------------------------------------------


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Web:
    """A threaded loopback site: pages by path, optional slow answers, request times."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.pages: dict[str, str] = {}
        self.times: dict[str, list[float]] = {}
        self.agents: dict[str, list[str]] = {}
        self.delay = 0.0
        self.in_flight = threading.Event()
        self.release = threading.Event()  # ends slow answers at teardown
        self.server.expect_request("/hook").respond_with_handler(self._hook)
        self.hook_posts: list[dict[str, Any]] = []
        self.server.expect_request(path_matcher()).respond_with_handler(self._page)
        self.server.start()

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def hits(self, path: str) -> int:
        return len(self.times.get(path, []))

    def _page(self, request: Request) -> Response:
        self.times.setdefault(request.path, []).append(time.monotonic())
        self.agents.setdefault(request.path, []).append(request.headers.get("User-Agent", ""))
        if self.delay:
            self.in_flight.set()
            self.release.wait(self.delay)
        body = self.pages.get(request.path)
        if body is None:
            return Response("not here", status=404)
        return Response(body, content_type="text/html; charset=utf-8")

    def _hook(self, request: Request) -> Response:
        self.hook_posts.append(json.loads(request.get_data()))
        return Response("ok")

    def close(self) -> None:
        self.release.set()
        self.server.clear()
        if self.server.is_running():
            self.server.stop()


def path_matcher() -> Any:
    return re.compile(r"^/(?!hook$).*")


@pytest.fixture
def web() -> Iterator[Web]:
    site = Web()
    yield site
    site.close()


class Daemon:
    """`watcher run` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.orphans: list[int] = []
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 10.0) -> None:
        wait_until(
            lambda: text in self.log(), timeout, f"{text!r} in the daemon's log:\n{self.log()}"
        )

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def kill9(self) -> int:
        """SIGKILL the daemon. Its worker processes outlive it (as they would
        outside systemd or Docker); they are killed at teardown."""
        self.orphans = descendants(self.pid)
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(5)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.orphans = descendants(self.pid)
            self.proc.kill()
            self.proc.wait(5)
        for pid in self.orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (read from /proc: Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, *args: str, **kwargs: Any) -> Daemon:
        daemon = Daemon(config, "--log-level", "info", "run", *args, **kwargs)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )


def query(tmp: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    path = tmp / "state" / "watcher.db"
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def html(site: Web, source_id: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"id": source_id, "url": site.url(path), "select": "main", **extra}


@pytest.mark.slow
def test_sources_are_checked_on_schedule_with_json_logs(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    web.pages = {"/a": page(), "/b": page()}
    config = write_config(
        tmp_path / "config.toml",
        [html(web, "a", "/a", interval="2s"), html(web, "b", "/b", interval="3s")],
    )
    daemon = daemons(config, "--log-format", "json")
    wait_until(lambda: web.hits("/a") >= 4, 15, "four checks of a")
    a, b = web.times["/a"], web.times.get("/b", [])
    gaps_a = [later - earlier for earlier, later in pairwise(a)]
    gaps_b = [later - earlier for earlier, later in pairwise(b)]
    assert all(1.5 <= gap <= 3.0 for gap in gaps_a), gaps_a
    assert all(2.5 <= gap <= 4.0 for gap in gaps_b), gaps_b
    assert daemon.stop() == 0
    lines = [json.loads(line) for line in daemon.log().splitlines()]
    checks = [line for line in lines if line["message"].startswith("check a ")]
    assert len(checks) >= 4 and checks[0]["logger"] == "watcher.pipeline"
    assert "outcome=new_version status=200" in checks[0]["message"]
    assert {"ts", "level", "logger", "message"} <= set(lines[0])


@pytest.mark.slow
def test_kill_9_mid_pass_then_restart_loses_and_doubles_nothing(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    web.pages = {"/rsp": page()}
    hook = {HOOK_ENV: web.url("/hook")}
    config = write_config(
        tmp_path / "config.toml",
        [html(web, "acme-rsp", "/rsp", interval="2s")],
        watcher={"notify": ["raters"]},
        channels={"raters": {"type": "slack", "webhook_url_env": HOOK_ENV}},
    )
    first = daemons(config, env=hook)
    versions = "SELECT number FROM versions WHERE source_id = 'acme-rsp' ORDER BY number"
    wait_until(lambda: len(query(tmp_path, versions)) == 1, 15, "the baseline version")
    web.pages["/rsp"] = page(SECTIONS.replace("once a year", "every two years"))
    wait_until(lambda: len(web.hook_posts) == 1, 15, "the first alert")
    # the next answer is slow: kill -9 while the check waits for it
    web.delay = 5.0
    web.in_flight.clear()
    web.pages["/rsp"] = page(SECTIONS.replace("once a year", "every three years"))
    wait_until(web.in_flight.is_set, 10, "a check in flight")
    assert first.kill9() == -signal.SIGKILL
    web.delay = 0.0

    second = daemons(config, env=hook)
    wait_until(lambda: len(query(tmp_path, versions)) == 3, 15, "the third version")
    wait_until(lambda: len(web.hook_posts) == 2, 15, "the second alert")
    checks_now = len(query(tmp_path, "SELECT id FROM checks"))
    wait_until(
        lambda: len(query(tmp_path, "SELECT id FROM checks")) > checks_now, 10, "another check"
    )
    assert second.stop() == 0

    assert [row[0] for row in query(tmp_path, versions)] == [1, 2, 3]
    tasks = query(tmp_path, "SELECT status, from_version, to_version FROM tasks")
    assert tasks == [("open", 1, 3)]
    alerts = query(tmp_path, "SELECT kind, status, attempts FROM notifications ORDER BY id")
    assert alerts == [("change", "sent", 1), ("change", "sent", 1)]
    assert len(web.hook_posts) == 2 and web.hook_posts[0] != web.hook_posts[1]
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    for daemon in (first, second):
        assert "/hook" not in daemon.log()  # the webhook URL is a secret


@pytest.mark.slow
@pytest.mark.parametrize(
    ("delay", "grace", "finished"),
    [(1.5, "6s", True), (4.0, "1s", False)],
    ids=["in-flight check finishes", "overrunning check is cancelled"],
)
def test_sigterm_exits_0_within_the_grace_period(
    tmp_path: Path,
    web: Web,
    daemons: Callable[..., Daemon],
    delay: float,
    grace: str,
    finished: bool,
) -> None:
    web.pages = {"/a": page()}
    config = write_config(
        tmp_path / "config.toml",
        [html(web, "a", "/a", interval="4s")],
        watcher={"shutdown_grace": grace},
    )
    web.delay = delay
    daemon = daemons(config)
    wait_until(web.in_flight.is_set, 10, "a check in flight")
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0
    elapsed = time.monotonic() - started
    limit = float(grace.rstrip("s"))
    assert elapsed < limit + 2.0, elapsed
    recorded = query(tmp_path, "SELECT outcome FROM checks WHERE source_id = 'a'")
    if finished:
        assert recorded == [("new_version",)]
        assert elapsed >= delay - 0.5  # it waited for the check
    else:
        assert recorded == []  # cancelled before its transaction: next start checks it again
        assert "cancelled" in daemon.log()


@pytest.mark.slow
def test_sighup_adds_a_source_applies_new_settings_and_refuses_an_invalid_config(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    web.pages = {"/a": page(), "/b": page()}
    channels = {"raters": {"type": "slack", "webhook_url_env": HOOK_ENV}}
    path = tmp_path / "config.toml"
    write_config(
        path,
        [html(web, "a", "/a", interval="2s")],
        watcher={"notify": ["raters"]},
        channels=channels,
    )
    daemon = daemons(path, env={HOOK_ENV: web.url("/hook")})
    wait_until(lambda: web.hits("/a") >= 1, 10, "a first check of a")
    sources = [html(web, "a", "/a", interval="2s"), html(web, "b", "/b", interval="2s")]
    settings = {"notify": ["raters"], "user_agent": "watcher-tests/2.0"}
    write_config(path, sources, watcher=settings, channels=channels)
    daemon.send(signal.SIGHUP)
    wait_until(lambda: web.hits("/b") >= 1, 10, "a check of the added source")
    daemon.wait_log("config reloaded: 2 sources scheduled")
    assert web.agents["/a"][0] == "watcher-tests/1.0"
    assert set(web.agents["/b"]) == {"watcher-tests/2.0"}  # new fetch settings in use

    text = path.read_text(encoding="utf-8").replace('interval = "2s"', 'interval = "soon"', 1)
    path.write_text(text, encoding="utf-8")
    daemon.send(signal.SIGHUP)
    daemon.wait_log("config reload refused")
    assert "sources[0] (a).interval: 'soon' is not a duration" in daemon.log()
    wait_until(lambda: len(web.hook_posts) == 1, 10, "the admin alert about the config")
    assert "could not be reloaded" in web.hook_posts[0]["text"]
    daemon.send(signal.SIGHUP)  # the same problems again: no second alert
    hits_a, hits_b = web.hits("/a"), web.hits("/b")
    wait_until(lambda: web.hits("/a") > hits_a and web.hits("/b") > hits_b, 10, "checks going on")
    assert daemon.stop() == 0
    assert len(web.hook_posts) == 1


@pytest.mark.slow
def test_one_daemon_per_state_folder_and_status_reports_its_health(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    web.pages = {"/a": page()}
    config = write_config(tmp_path / "config.toml", [html(web, "a", "/a", interval="4s")])
    idle = cli(config, "status")
    assert idle.returncode == 1 and "no watcher is running" in idle.stdout

    daemon = daemons(config)
    wait_until(lambda: query(tmp_path, "SELECT id FROM checks"), 10, "a first check")
    live = cli(config, "status", "--json")
    assert live.returncode == 0, live.stdout + live.stderr
    data = json.loads(live.stdout)
    assert data["healthy"] and data["daemon"]["pid"] == daemon.pid
    assert data["daemon"]["heartbeat_age_s"] < 15
    [row] = data["sources"]
    assert (row["id"], row["schedule"], row["status"]) == ("a", "every 4s", "ok")
    assert row["next_check"] > row["last_checked"]
    assert data["outbox"] == {"pending": 0, "sending": 0, "failed": 0, "held": 0}

    second = cli(config, "run")
    assert second.returncode == 2
    state = tmp_path / "state"
    assert f"another watcher is running on {state} (pid {daemon.pid})" in second.stderr

    daemon.send(signal.SIGSTOP)  # a hung daemon: lock held, heartbeat ageing
    try:
        old = clock.iso(clock.now() - timedelta(minutes=5))
        conn = sqlite3.connect(state / "watcher.db", timeout=10)
        with conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'daemon.heartbeat_at'", (old,))
        conn.close()
        stale = cli(config, "status")
        assert stale.returncode == 1
        assert "heartbeat is 5m" in stale.stdout and f"pid {daemon.pid}" in stale.stdout
    finally:
        daemon.send(signal.SIGCONT)
    assert daemon.stop() == 0
    gone = cli(config, "status")
    assert gone.returncode == 1 and "no watcher is running" in gone.stdout


def test_run_serves_the_dashboard_when_enabled(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    import httpx

    from tests.servers import free_port

    web.pages = {"/a": page()}
    config = write_config(tmp_path / "config.toml", [html(web, "a", "/a", interval="1h")])
    port = free_port()
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[dashboard]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n')
    daemon = daemons(config)
    daemon.wait_log("dashboard on http://127.0.0.1:")

    def overview() -> str:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        except httpx.HTTPError:
            return ""
        return answer.text if answer.status_code == 200 else ""

    assert "Acme" in wait_until(overview, 15, "the dashboard's overview")
    assert daemon.stop() == 0


def test_a_scheduled_check_works_on_its_own_source_and_its_followed_documents_only(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    link = '<p>Also as a <a href="/a-doc">printable document</a>.</p>'
    web.pages = {"/a": page(SECTIONS + link), "/a-doc": page(), "/b": page()}
    config = write_config(
        tmp_path / "config.toml",
        [
            html(web, "a", "/a", interval="2s", follow="main a"),
            html(web, "b", "/b", interval="1h"),
        ],
    )
    first = cli(config, "check")  # every source's first version: b is not due for an hour
    assert first.returncode == 0, first.stdout + first.stderr
    assert web.hits("/a-doc") == 1
    daemon = daemons(config)
    daemon.wait_log("watching 2 sources")
    # The daemon synced the sources with the config as it started. A row
    # changed behind its back from now on shows whether a check of `a`
    # writes to the other sources' rows, as a re-sync of every source would.
    conn = sqlite3.connect(tmp_path / "state" / "watcher.db", timeout=10)
    with conn:
        conn.execute("UPDATE sources SET title = 'edited by hand' WHERE id = 'b'")
    conn.close()
    row_b = query(tmp_path, "SELECT * FROM sources WHERE id = 'b'")
    wait_until(lambda: web.hits("/a-doc") >= 3, 15, "two scheduled checks of a's document")
    assert daemon.stop() == 0
    assert web.hits("/a") >= 3 and web.hits("/b") == 1
    assert query(tmp_path, "SELECT * FROM sources WHERE id = 'b'") == row_b
    [child] = query(tmp_path, "SELECT id FROM sources WHERE parent_id = 'a'")
    assert re.search(rf"check {re.escape(child[0])} outcome=unchanged", daemon.log())


def test_sighup_removes_a_source_and_adds_another_to_the_schedule(
    tmp_path: Path, web: Web, daemons: Callable[..., Daemon]
) -> None:
    web.pages = {"/a": page(), "/b": page(), "/c": page()}
    path = tmp_path / "config.toml"
    write_config(path, [html(web, "a", "/a", interval="2s"), html(web, "b", "/b", interval="2s")])
    daemon = daemons(path)
    wait_until(lambda: web.hits("/a") >= 1 and web.hits("/b") >= 1, 10, "checks of a and b")
    write_config(path, [html(web, "a", "/a", interval="2s"), html(web, "c", "/c", interval="2s")])
    daemon.send(signal.SIGHUP)
    daemon.wait_log("config reloaded: 2 sources scheduled")
    hits_b = web.hits("/b")  # a check of b may still have been running
    wait_until(lambda: web.hits("/c") >= 2, 10, "two checks of the added source")
    assert web.hits("/b") <= hits_b + 1
    hits_a = web.hits("/a")
    wait_until(lambda: web.hits("/a") >= hits_a + 2, 10, "more checks of a")
    assert daemon.stop() == 0
    assert web.hits("/b") <= hits_b + 1
    assert "source b is no longer scheduled" in daemon.log()
    active = dict(query(tmp_path, "SELECT id, active FROM sources"))
    assert active == {"a": 1, "b": 0, "c": 1}
