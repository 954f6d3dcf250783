"""The worker pool: its timeout and crash paths, and the installed `watcher` script's use of it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from tests import hostile_jobs as jobs
from tests.conftest import Env, Site
from tests.test_pipeline import html_source, page
from watcher.errors import ExtractionError
from watcher.workers import WorkerPool

T = TypeVar("T")

SCRIPT = """\
import asyncio
import os
import sys

if __name__ != "__main__":
    # imported again, as __mp_main__, by a process the pool started
    with open(os.environ["MARKER"], "a") as out:
        out.write(__name__ + "\\n")

from watcher.workers import WorkerPool, adopt_script_main


async def main() -> None:
    if os.environ.get("ADOPT"):
        adopt_script_main()
    pool = WorkerPool(workers=1, timeout=30)
    try:
        print(await pool.run("a job", "os.path:basename", "/a/b"))
    finally:
        pool.close()


if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.parametrize("adopt", [True, False])
def test_an_adopted_script_is_not_imported_again_by_the_workers(
    tmp_path: Path, adopt: bool
) -> None:
    """The `watcher` script's imports (the whole CLI) are not every worker's to pay again."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    marker = tmp_path / "imported"
    env = {"MARKER": str(marker), "PATH": "/usr/bin:/bin"} | ({"ADOPT": "1"} if adopt else {})
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "b"
    # without adoption, multiprocessing imports the script in the worker, as it always did
    assert marker.exists() != adopt


def test_the_watcher_command_adopts_its_script(tmp_path: Path) -> None:
    """What the installed `watcher` script runs adopts it, whatever the command."""
    script = tmp_path / "watcher_script.py"
    script.write_text(
        "import __main__\n"
        "from click.testing import CliRunner\n"
        "from watcher.cli import main\n"
        "CliRunner().invoke(main, ['--config', '/nonexistent/config.toml', 'validate'])\n"
        "print(__main__.__spec__.name)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "watcher.__main__", done.stderr


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie has stopped)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def gone_soon(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(workers=1, timeout=2)
    yield workers
    workers.close()


def test_a_job_that_overruns_fails_alone_and_the_pool_recovers(pool: WorkerPool) -> None:
    """The hung worker is killed; the job queued behind it runs in a new one."""

    async def scenario() -> None:
        hung = await pool.run("a warm-up", "os:getpid")
        started = time.monotonic()
        hostile, queued = await asyncio.gather(
            pool.run("a hostile PDF", jobs.sleep_forever),
            pool.run("a queued job", "os:getpid"),
            return_exceptions=True,
        )
        assert time.monotonic() - started < 10
        assert isinstance(hostile, ExtractionError)
        assert str(hostile) == "a hostile PDF took over 2s and was stopped"
        assert isinstance(queued, int) and queued != hung
        assert gone_soon(hung), "the hung worker was left running"
        assert await pool.run("the next job", "os.path:basename", "/a/b") == "b"

    asyncio.run(scenario())


@pytest.mark.parametrize("job", [jobs.exit_worker, jobs.kill_worker, jobs.abort_worker])
def test_a_job_that_kills_its_worker_fails_alone_and_the_pool_is_rebuilt(
    pool: WorkerPool, job: Callable[[], None]
) -> None:
    async def scenario() -> None:
        before = await pool.run("a warm-up", "os:getpid")
        with pytest.raises(ExtractionError, match=r"^a hostile PDF crashed its worker process$"):
            await pool.run("a hostile PDF", job)
        assert not alive(before)
        assert await pool.run("the next job", "os.path:basename", "/a/b") == "b"

    asyncio.run(scenario())


def test_a_crash_fails_only_the_job_that_caused_it() -> None:
    """The pool fails every job a dead worker takes down; the innocent ones still succeed."""
    pool = WorkerPool(workers=2, timeout=30)

    async def scenario() -> list[object]:
        await asyncio.gather(*(pool.run("a warm-up", "os:getpid") for _ in range(2)))
        return await asyncio.gather(
            pool.run("a long job", jobs.sleep_then, 1.0, "long"),
            pool.run("a hostile PDF", jobs.kill_worker),
            pool.run("a queued job", jobs.sleep_then, 0.0, "queued"),
            return_exceptions=True,
        )

    try:
        long, hostile, queued = asyncio.run(scenario())
    finally:
        pool.close()
    assert (long, queued) == ("long", "queued")
    assert isinstance(hostile, ExtractionError)
    assert str(hostile) == "a hostile PDF crashed its worker process"


def test_a_job_s_own_errors_pass_through_and_keep_the_pool(pool: WorkerPool) -> None:
    async def scenario() -> None:
        before = await pool.run("a warm-up", "os:getpid")
        with pytest.raises(ValueError, match="Expecting"):
            await pool.run("a bad job", "json:loads", "{")
        with pytest.raises(TimeoutError, match="the job's own timeout"):
            await pool.run("a job that times out on its own", jobs.raise_timeout)
        assert await pool.run("the next job", "os:getpid") == before

    asyncio.run(scenario())


def test_cancelling_the_caller_cancels_the_wait(pool: WorkerPool) -> None:
    async def scenario() -> None:
        await pool.run("a warm-up", "os:getpid")
        task = asyncio.create_task(pool.run("a slow job", jobs.sleep_then, 0.5, "late"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


class HostileDocuments(WorkerPool):
    """A pool whose extraction of the source `hostile` runs `job` instead.

    PDFium cannot be made to crash on demand, so the job stands in for the
    hostile PDF; the pool, its workers and the pipeline around it are real.
    """

    def __init__(self, job: Callable[[], None] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    async def run(self, what: str, func: Callable[..., T] | str, /, *args: Any, **kwargs: Any) -> T:
        if what == "extraction of hostile" and self.job is not None:
            return cast(T, await super().run(what, self.job))
        return await super().run(what, func, *args, **kwargs)


@pytest.mark.parametrize(
    ("job", "timeout", "error"),
    [
        (jobs.kill_worker, 30, "extraction of hostile crashed its worker process"),
        pytest.param(
            jobs.sleep_forever,
            5,
            "extraction of hostile took over 5s and was stopped",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_hostile_document_is_a_failed_check_and_the_next_pass_works(
    tmp_path: Path, site: Site, job: Callable[[], None], timeout: float, error: str
) -> None:
    site.set("/good", page())
    site.set("/hostile", page(token="hostile"))
    pool = HostileDocuments(job, workers=2, timeout=timeout)
    env = Env(tmp_path, pool)
    env.sources = [html_source(site, "/good", "good"), html_source(site, "/hostile", "hostile")]
    try:
        result = env.check()
        assert env.outcome(result, "good").outcome == "new_version"
        failed = env.outcome(result, "hostile")
        assert (failed.outcome, failed.error) == ("failed", error)
        pool.job = None  # the document is fixed
        result = env.check()
        assert env.outcome(result, "hostile").outcome == "new_version"
        assert env.outcome(result, "good").outcome == "unchanged"
    finally:
        env.close()
        pool.close()
