"""One daemon per state folder: an flock on `state_dir/watcher.lock`.

The OS releases the lock when the process ends, however it ends, so a stale
lock file never blocks a restart; `watcher status` asks whether it is held.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from watcher.errors import StoreError, WatcherError

LOCK_NAME = "watcher.lock"
LOCK_ATTEMPTS = 5  # a `watcher status` probing the lock holds it for microseconds
LOCK_RETRY_S = 0.1


class AlreadyRunning(WatcherError):
    """Another daemon holds the lock of this state folder."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        holder = f" (pid {pid})" if pid else ""
        super().__init__(f"another watcher is running on {state_dir}{holder}")
        self.state_dir = state_dir
        self.pid = pid


class DaemonLock:
    """An exclusive flock on `state_dir/watcher.lock`, with the holder's pid inside.

    The OS releases it when the process ends, however it ends (kill -9 too),
    so a stale lock file never blocks a restart.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> DaemonLock:
        path = state_dir / LOCK_NAME
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
        for attempt in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_ATTEMPTS - 1:
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise AlreadyRunning(state_dir, pid) from None
                time.sleep(LOCK_RETRY_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_holder(state_dir: Path) -> tuple[bool, int | None]:
    """Whether a daemon holds `state_dir`'s lock, and its pid as written in the file."""
    try:
        fd = os.open(state_dir / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        raise StoreError(
            f"cannot read the lock file in {state_dir}: {exc.strerror or exc}"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, _read_pid(fd)
    finally:
        os.close(fd)
