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

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: children never inherit the parent's threads or sockets.
            # (Preloading the extractors into the server was measured and lost:
            # the first worker then waits for all the imports, on the critical path.)
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_worker_start
            )
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
        parser and PDF libraries then never load in the main process.
        """
        loop = asyncio.get_running_loop()
        pool = self._executor()
        future = loop.run_in_executor(pool, _call, func, args, kwargs)
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            log.warning("%s took over %.0fs; restarting the worker pool", what, self.timeout)
            self._kill()
            raise ExtractionError(f"{what} took over {self.timeout:.0f}s and was stopped") from None
        except BrokenProcessPool:
            log.warning("a worker died during %s; restarting the worker pool", what)
            self._kill()
            raise ExtractionError(f"{what} crashed its worker process") from None

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # a hung worker never returns; shutdown() alone would wait on it forever
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


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
