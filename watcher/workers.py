"""CPU work off the event loop: a small process pool with a per-job timeout.

Parsing HTML, extracting PDF text and diffing long documents are CPU-bound;
run on the event loop they would stall every fetch in flight. PDFium is not
thread-safe, and a hostile PDF can hang or crash the process that parses it,
so the work runs in child processes: a job that overruns its timeout or
kills its worker fails that one check, and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.machinery
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from watcher.errors import ExtractionError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_WORKERS = 2
JOB_TIMEOUT_S = 60.0
ORPHAN_POLL_S = 2.0  # how soon a worker notices its parent is gone


class WorkerPool:
    """Runs picklable top-level functions in child processes, with a timeout."""

    def __init__(self, workers: int = DEFAULT_WORKERS, timeout: float = JOB_TIMEOUT_S) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        # One job per worker at a time, so that a job's timeout counts its
        # run, not its wait behind others; one semaphore per event loop.
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _new_executor(self.workers)
        return self._pool

    def start(self, imports: tuple[str, ...] = ("watcher.extract",)) -> None:
        """Start the workers in the background, to be ready when the first answers arrive.

        Each worker is sent a job that imports `imports` (the pool starts a
        process per job while none is idle), which it does while the first
        requests are in flight. Starting a process waits for the fork server:
        a thread waits, not the event loop.
        """
        pool = self._executor()

        def send() -> None:
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                for _ in range(self.workers):
                    pool.submit(_import, imports)

        threading.Thread(target=send, name="workers-start", daemon=True).start()

    async def run(self, what: str, func: Callable[..., T] | str, /, *args: Any, **kwargs: Any) -> T:
        """Run `func(*args, **kwargs)` in a worker; `what` names the job in errors.

        `func` may be "module:function", imported only in the worker: the
        parser and PDF libraries then never load in the main process. A job
        must be a pure function of its arguments: it may run twice (below).

        A job waits for a free worker; from then on, a job that overruns the
        timeout fails with `ExtractionError`, and the pool is rebuilt. When a
        worker dies, the pool fails every job it was running, and cannot tell
        whose fault it was: each of them runs once more in a process of its
        own, so that only the job that kills its worker fails (with
        `ExtractionError`). An exception the job raises itself is raised here
        unchanged.
        """
        async with self._slot():
            return await self._run(what, func, args, kwargs)

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.workers))
        return self._slots[1]

    async def _run(
        self,
        what: str,
        func: Callable[..., T] | str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        pool = self._executor()
        try:
            return await self._attempt(pool, what, func, args, kwargs)
        except BrokenProcessPool:
            self._discard(pool)
        log.warning("a worker died during %s; running it again in a process of its own", what)
        alone = _new_executor(1)
        try:
            return await self._attempt(alone, what, func, args, kwargs)
        except BrokenProcessPool:
            log.warning("%s crashed its worker process", what)
            raise ExtractionError(f"{what} crashed its worker process") from None
        finally:
            _stop(alone)

    async def _attempt(
        self,
        pool: ProcessPoolExecutor,
        what: str,
        func: Callable[..., T] | str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        """One run of the job in `pool`; raises BrokenProcessPool when the pool broke under it."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(pool, _call, func, args, kwargs)
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                return await future
        except TimeoutError:
            if not deadline.expired():
                raise  # the job's own error, not the timeout's
            log.warning("%s took over %.0fs; restarting the worker pool", what, self.timeout)
            self._discard(pool)
            raise ExtractionError(f"{what} took over {self.timeout:.0f}s and was stopped") from None

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Stop `pool`, and start a new one for the next job if it was the current one."""
        if self._pool is pool:
            self._pool = None
        _stop(pool)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _new_executor(workers: int) -> ProcessPoolExecutor:
    # forkserver: children never inherit the parent's threads or sockets.
    # (Preloading the extractors into the server was measured and lost:
    # the first worker then waits for all the imports, on the critical path.)
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop `pool` now: its jobs still waiting or running fail with BrokenProcessPool."""
    # a hung worker never returns; shutdown() alone would wait on it forever
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False)


def adopt_script_main(name: str = "watcher.__main__") -> None:
    """Spare every worker a re-import of the program's main script.

    multiprocessing re-imports a main module run from a file (the installed
    `watcher` script) in every child process, as `__mp_main__`, in case a job
    was defined there. For `watcher` that is the whole CLI: 0.45 s per worker,
    at the start of every pass (measured: a cold pass ~1.5 s slower through
    the script than through `python -m watcher`; Python 3.11's fork server
    never preloads it either). A main module run by a name ending in
    `.__main__` is left alone: this gives the script such a name. No job of
    ours lives in the main module.
    """
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None and hasattr(main, "__file__"):
        main.__spec__ = importlib.machinery.ModuleSpec(name, None)


def _call(func: Callable[..., T] | str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    if isinstance(func, str):
        module, _, name = func.partition(":")
        func = getattr(importlib.import_module(module), name)
        assert callable(func)
    return func(*args, **kwargs)


def _import(modules: tuple[str, ...]) -> None:
    """The job `WorkerPool.start` sends."""
    for module in modules:
        importlib.import_module(module)


def _worker_start() -> None:
    """In each worker: leave Ctrl-C to the parent, and die with it.

    A terminal's Ctrl-C reaches the whole process group; the parent decides
    how to stop, so the workers ignore it. A parent killed with SIGKILL
    cannot stop its workers, so each one watches for being orphaned.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
