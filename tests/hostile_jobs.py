"""Jobs a hostile document could make of a worker process, for tests/test_workers.py.

A module of their own, importing nothing heavy: a worker imports it by name
before it runs one of them.
"""

from __future__ import annotations

import os
import resource
import signal
import time


def exit_worker() -> None:
    os._exit(3)


def kill_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def abort_worker() -> None:
    """What a crash in C code (PDFium) looks like: the process dies of a signal."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
    os.abort()


def sleep_forever() -> None:
    time.sleep(600)


def raise_timeout() -> None:
    raise TimeoutError("the job's own timeout")


def sleep_then(seconds: float, result: str) -> str:
    time.sleep(seconds)
    return result
