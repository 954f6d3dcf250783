"""Shared fixtures: a real web site on 127.0.0.1, a config written to disk, a database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from watcher.config import Config, load_config
from watcher.pipeline import PassResult, check_all
from watcher.store import Store
from watcher.workers import WorkerPool

# WATCHER_TEST_CLOCK=HH:MM runs every test as if started at that UTC time
# today (the clock then ticks on). .ci/run re-runs the tests marked `clock` at
# 00:30, 13:30 and 23:59 so that none depends on the hour the suite runs at.
TEST_CLOCK_ENV = "WATCHER_TEST_CLOCK"


def test_clock_start(value: str) -> datetime:
    """Today (UTC) at `value` ("HH:MM"); a clear error for anything else."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
        return datetime.now(UTC).replace(hour=hours, minute=minutes, second=0, microsecond=0)
    except ValueError:
        raise pytest.UsageError(
            f"{TEST_CLOCK_ENV}={value!r} is not a time of day (HH:MM, UTC)"
        ) from None


def pytest_configure(config: pytest.Config) -> None:
    value = os.environ.get(TEST_CLOCK_ENV)
    if value:
        test_clock_start(value)  # a typo stops the run with one line, before any test


@pytest.fixture(autouse=True)
def _test_clock() -> Iterator[None]:
    value = os.environ.get(TEST_CLOCK_ENV)
    if not value:
        yield
        return
    import time_machine

    with time_machine.travel(test_clock_start(value), tick=True):
        yield


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    delay: float = 0.0  # seconds before answering


class Site:
    """A loopback web site whose pages tests change between checks.

    Answers conditional requests when a page has an `etag`; records every
    request as (path, headers).
    """

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def set(self, path: str, body: str | bytes, **kwargs: Any) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(data, **kwargs)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def _handle(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.headers)))
        page = self.pages.get(request.path)
        if page is None:
            return Response("not here", status=404)
        if page.delay:
            time.sleep(page.delay)
        headers = dict(page.headers)
        if page.etag is not None:
            headers["ETag"] = page.etag
            if request.headers.get("If-None-Match") == page.etag:
                return Response(status=304, headers=headers)
        return Response(
            page.body, status=page.status, headers=headers, content_type=page.content_type
        )


@pytest.fixture
def site(httpserver: HTTPServer) -> Iterator[Site]:
    yield Site(httpserver)


@pytest.fixture(scope="session")
def workers() -> Iterator[WorkerPool]:
    pool = WorkerPool(workers=2, timeout=30)
    yield pool
    pool.close()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def write_config(
    path: Path,
    sources: list[dict[str, Any]],
    *,
    watcher: dict[str, Any] | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
) -> Path:
    settings = {
        "state_dir": "state",
        "default_interval": "1h",
        "user_agent": "watcher-tests/1.0",
        "timeout": "5s",
        "retries": 0,
        **(watcher or {}),
    }
    lines = ["[watcher]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    for name, channel in (channels or {}).items():
        lines.append(f"\n[channels.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in channel.items()]
    for source in sources:
        lines.append("\n[[sources]]")
        defaults = {"lab": "Acme", "title": f"Policy {source['id']}"}
        lines += [f"{k} = {toml_value(v)}" for k, v in {**defaults, **source}.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Env:
    """One watcher set-up: a config file, its database, a way to run a pass."""

    tmp: Path
    workers: WorkerPool
    sources: list[dict[str, Any]] = field(default_factory=list)
    watcher: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    _store: Store | None = None

    @property
    def config_path(self) -> Path:
        return self.tmp / "config.toml"

    def write(self) -> Config:
        write_config(self.config_path, self.sources, watcher=self.watcher, channels=self.channels)
        return load_config(self.config_path)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.tmp / "state")
        return self._store

    def check(self, *only: str) -> PassResult:
        config = self.write()
        return asyncio.run(check_all(config, self.store, only=only or None, workers=self.workers))

    def outcome(self, result: PassResult, source_id: str) -> Any:
        matches = [o for o in result.outcomes if o.source_id == source_id]
        assert len(matches) == 1, result.outcomes
        return matches[0]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@pytest.fixture
def env(tmp_path: Path, workers: WorkerPool) -> Iterator[Env]:
    environment = Env(tmp_path, workers)
    yield environment
    environment.close()
