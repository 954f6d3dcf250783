"""Faults from outside the code: the disk, the file system, other processes, odd input."""

# --- storage ---
# The database file failing under watcher: full, locked, damaged, read-only,
# opened by several processes at once; and pages whose text is tiny. Commands
# run as real processes (their whole stderr is what a user sees); a full disk
# is SQLite's own SQLITE_FULL, made real by `PRAGMA max_page_count`.

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Env, Site
from tests.test_pipeline import SECTIONS, html_source, page
from watcher.cli import main as cli_main
from watcher.errors import StorageError
from watcher.store import DB_NAME, SCHEMA_VERSION, Store

_BOOT = """
import sys
import watcher.store as store
{patch}
from watcher.cli import main
main(prog_name="watcher")
"""

# Every Store.open'ed database may not grow by one page: the disk is full.
_FULL_DISK = """
_open = store.Store.open
def _full(state_dir):
    opened = _open(state_dir)
    pages = opened.conn.execute("PRAGMA page_count").fetchone()[0]
    opened.conn.execute(f"PRAGMA max_page_count = {pages}")
    return opened
store.Store.open = staticmethod(_full)
"""


def _watcher(
    config: Path, *args: str, patch: str = "", timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`watcher --config CONFIG ARGS...` as its own process, after `patch` ran in it."""
    return subprocess.run(
        [sys.executable, "-c", _BOOT.format(patch=patch), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr, which must be an error naming the database."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database "), lines
    return lines[0]


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("sources", "checks", "blobs", "versions", "tasks", "notifications")
        }
    finally:
        conn.close()


def _big_page(seed: int) -> str:
    # text that compresses badly, so its version needs many new pages
    words = [f"w{(seed * 7919 + i * 104729) % 1000003:x}" for i in range(6000)]
    return page(SECTIONS + "<p>" + " ".join(words) + "</p>")


@pytest.fixture
def watched(env: Env, site: Site) -> Env:
    """Three sources with a first version each, recorded by `watcher check`."""
    for n in range(3):
        site.set(f"/p{n}", page(SECTIONS.replace("We commit to", f"We (n{n}) commit to")))
    env.sources = [html_source(site, f"/p{n}", f"doc-{n}") for n in range(3)]
    env.write()
    first = _watcher(env.config_path, "check")
    assert first.returncode == 0, first.stderr
    return env


def test_a_full_disk_ends_check_with_one_line_and_writes_nothing(watched: Env, site: Site) -> None:
    db = watched.tmp / "state" / DB_NAME
    for n in range(3):
        site.set(f"/p{n}", _big_page(n))
    before = _counts(db)

    full = _watcher(watched.config_path, "check", patch=_FULL_DISK)

    assert full.returncode == 1, full.stderr
    line = _one_error_line(full)
    assert str(db) in line and "the disk is full; free space" in line
    assert "[database or disk is full]" in line
    assert _counts(db) == before  # no check row, no blob, no version, no task
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # space again: the next check records what the failed one could not
    again = _watcher(watched.config_path, "check")
    assert again.returncode == 0, again.stderr
    assert "3 new version" in again.stdout and "3 tasks opened" in again.stdout
    after = _counts(db)
    assert after["versions"] == before["versions"] + 3 and after["tasks"] == 3


def test_a_full_disk_fails_a_pass_in_the_store_as_well(watched: Env, site: Site) -> None:
    # the same, one level down: the pass raises one StorageError and the
    # transaction of the check that hit it leaves nothing behind
    site.set("/p0", _big_page(9))
    config = watched.write()
    store = watched.store
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    before = _counts(store.path)
    with pytest.raises(StorageError) as caught:
        watched.check("doc-0")
    assert caught.value.cause == "full" and not caught.value.opening
    assert caught.value.path == store.path
    assert _counts(store.path) == before
    assert config.sources[0].id == "doc-0"


def test_a_database_locked_past_the_busy_timeout_is_one_line(watched: Env) -> None:
    db = watched.tmp / "state" / DB_NAME
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        locked = _watcher(watched.config_path, "check", patch="store.BUSY_TIMEOUT_S = 0.3")
        assert time.monotonic() - started < 30
        assert locked.returncode == 1, locked.stderr
        line = _one_error_line(locked)
        assert str(db) in line and "another process held it locked" in line
        # readers are not held up by a writer
        tasks = _watcher(watched.config_path, "tasks", patch="store.BUSY_TIMEOUT_S = 0.3")
        assert tasks.returncode == 0 and tasks.stdout.strip() == "no open tasks", tasks.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _watcher(watched.config_path, "check").returncode == 0


@pytest.mark.parametrize("command", [["check"], ["tasks"], ["history", "doc-0"], ["sources"]])
def test_a_file_that_is_not_a_database_is_refused_with_exit_2(
    watched: Env, command: list[str]
) -> None:
    db = watched.tmp / "state" / DB_NAME
    db.write_bytes(os.urandom(64 * 1024))
    result = _watcher(watched.config_path, *command)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result)
    assert str(db) in line and "it is damaged; stop watcher and restore it from a backup" in line
    assert f'sqlite3 {db} ".backup' in line


def test_serve_refuses_a_damaged_database_before_listening(watched: Env) -> None:
    db = watched.tmp / "state" / DB_NAME
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(8 * 1024))
    served = _watcher(watched.config_path, "serve", "--port", "0", timeout=30)
    assert served.returncode == 2
    line = _one_error_line(served)
    assert "it is damaged" in line and "dashboard on" not in served.stderr


def test_serve_refuses_damaged_pages_inside_a_valid_file(watched: Env, site: Site) -> None:
    site.set("/p1", _big_page(1))
    assert _watcher(watched.config_path, "check").returncode == 0
    db = watched.tmp / "state" / DB_NAME
    data = bytearray(db.read_bytes())
    assert not (db.parent / f"{DB_NAME}-wal").exists()  # all of it is in the file
    middle = len(data) // 2
    data[middle : middle + 16 * 1024] = os.urandom(16 * 1024)
    db.write_bytes(bytes(data))
    served = _watcher(watched.config_path, "serve", "--port", "0", timeout=30)
    assert served.returncode == 2
    assert "it is damaged" in _one_error_line(served)


def test_serve_starts_on_a_sound_database(watched: Env) -> None:
    # the start-up check must not refuse a healthy file
    from tests.servers import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _BOOT.format(patch=""),
            "--config",
            str(watched.config_path),
            "serve",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(f"dashboard on http://127.0.0.1:{port}/")
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()


# -- a read-only state folder --


def _read_only(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` with `folder` mounted read-only over itself (a private mount)."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *command],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def read_only_mounts() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    folder = Path(tempfile.mkdtemp())
    try:
        probe = _read_only(folder, "sh", "-c", f'! touch "{folder}/x"')
        if probe.returncode != 0:
            pytest.skip(f"cannot mount a read-only folder here: {probe.stderr.strip()}")
    finally:
        shutil.rmtree(folder)


def _reviewed(env: Env, site: Site) -> Env:
    """A source with two versions and an open task."""
    site.set("/rsp", page())
    env.sources = [html_source(site)]
    env.write()
    run = CliRunner().invoke
    assert run(cli_main, ["--config", str(env.config_path), "check"]).exit_code == 0
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    assert run(cli_main, ["--config", str(env.config_path), "check"]).exit_code == 0
    return env


@pytest.fixture
def reviewed(env: Env, site: Site) -> Env:
    return _reviewed(env, site)


def _watcher_in_read_only(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return _read_only(
        env.tmp, sys.executable, "-m", "watcher", "--config", str(env.config_path), *args
    )


def _reading_commands_work(env: Env, *, warned: bool) -> None:
    sources = _watcher_in_read_only(env, "sources", "--json")
    assert sources.returncode == 0, sources.stderr
    assert '"acme-rsp"' in sources.stdout and "Traceback" not in sources.stderr
    # when the config cannot be synced into it, it says so
    assert ("is read-only: sources added" in sources.stderr) is warned, sources.stderr
    history = _watcher_in_read_only(env, "history", "acme-rsp")
    assert history.returncode == 0 and history.stdout.count("\n") == 3, history.stderr
    diff = _watcher_in_read_only(env, "diff", "acme-rsp")
    assert diff.returncode == 0 and "v1" in diff.stdout and "v2" in diff.stdout, diff.stderr
    tasks = _watcher_in_read_only(env, "tasks")
    assert tasks.returncode == 0 and "acme-rsp" in tasks.stdout, tasks.stderr
    show = _watcher_in_read_only(env, "show", "acme-rsp")
    assert show.returncode == 0 and "We expect to" in show.stdout, show.stderr


def test_reading_commands_work_in_a_read_only_state_folder(
    read_only_mounts: None, reviewed: Env
) -> None:
    reviewed.close()  # a clean close leaves no -wal or -shm file behind
    state = reviewed.tmp / "state"
    assert not (state / f"{DB_NAME}-shm").exists()
    before = sorted(p.name for p in state.iterdir())
    _reading_commands_work(reviewed, warned=True)
    assert sorted(p.name for p in state.iterdir()) == before

    # a writing command says so in one line, and exits 2: it cannot open the state
    check = _watcher_in_read_only(reviewed, "check")
    assert check.returncode == 2, check.stderr
    line = _one_error_line(check)
    assert str(state / DB_NAME) in line
    assert "user running watcher may read and write it" in line or "read-only" in line


def test_reading_commands_work_beside_a_writer_in_a_read_only_view(
    read_only_mounts: None, env: Env, site: Site
) -> None:
    # the daemon (another user, say) holds the database open: its -wal and
    # -shm files exist, and the recent writes are only in the -wal
    reviewed = _reviewed(env, site)
    writer = Store.open(reviewed.tmp / "state")
    try:
        with writer.transaction():
            writer.set_meta("probe", "1")
        assert (reviewed.tmp / "state" / f"{DB_NAME}-wal").stat().st_size > 0
        # nothing to sync: SQLite lets an empty write transaction through
        _reading_commands_work(reviewed, warned=False)
    finally:
        writer.close()


def test_a_read_only_store_refuses_writes_with_one_clear_error(reviewed: Env) -> None:
    reviewed.close()
    store = Store.open_for_reading(reviewed.tmp / "state")
    try:
        assert store.readonly and store.latest_version("acme-rsp") is not None
        with pytest.raises(StorageError) as caught, store.transaction():
            store.set_meta("x", "y")
        assert caught.value.cause == "readonly" and "write permission" in str(caught.value)
    finally:
        store.close()


def test_an_outdated_database_is_migrated_even_by_a_reading_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Store.open(state).close()
    conn = sqlite3.connect(state / DB_NAME)
    conn.execute("DROP TABLE version_search")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError) as caught:
        Store.open_readonly(state)
    assert caught.value.cause == "outdated" and caught.value.opening
    store = Store.open_for_reading(state)
    try:
        assert store.schema_version == SCHEMA_VERSION and not store.readonly
        assert store.search_versions('"x"') == []
    finally:
        store.close()


def test_a_missing_state_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StorageError) as caught:
        Store.open(blocker / "state")
    assert caught.value.opening and caught.value.cause == "cantopen"
    assert str(blocker / "state") in str(caught.value)


# -- several processes on one new state folder --

_OPENER = """
import sys, time
from pathlib import Path
from watcher.store import Store
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
store = Store.open(Path(sys.argv[1]))
print(store.schema_version)
store.close()
"""


@pytest.fixture
def new_state_folders() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp())
    yield folder
    shutil.rmtree(folder)


def test_processes_opening_a_new_state_folder_together_all_succeed(
    new_state_folders: Path,
) -> None:
    # Before: most rounds had processes die on "table sources already exists".
    for round_ in range(6):
        state = new_state_folders / f"state-{round_}"
        go = new_state_folders / f"go-{round_}"
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, str(state), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        time.sleep(0.8)  # every process imported and waiting
        go.touch()
        for opener in openers:
            out, err = opener.communicate(timeout=60)
            assert opener.returncode == 0, err
            assert out.strip() == str(SCHEMA_VERSION)
        conn = sqlite3.connect(state / DB_NAME)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        conn.close()
        assert tables.count("sources") == 1


# -- tiny pages --


def test_a_page_of_a_few_bytes_is_recorded_and_its_changes_alert(env: Env, site: Site) -> None:
    texts = ["a", "ab", "abc", "é", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "abcdefghi"]
    env.sources = []
    for n, text in enumerate(texts):
        site.set(f"/tiny{n}", f"<html><body><main><p>{text}</p></main></body></html>")
        env.sources.append(html_source(site, f"/tiny{n}", f"tiny-{n}"))
    first = env.check()
    assert {o.outcome for o in first.outcomes} == {"new_version"}, first.failed
    for n, text in enumerate(texts):
        site.set(f"/tiny{n}", f"<html><body><main><p>{text}!</p></main></body></html>")
    second = env.check()
    assert {o.outcome for o in second.outcomes} == {"new_version"}, second.failed
    assert all(o.task_id is not None for o in second.outcomes)
    for n, text in enumerate(texts):
        latest = env.store.latest_version(f"tiny-{n}")
        assert latest is not None and env.store.version_text(latest) == f"{text}!"
        raw = env.store.get_blob(latest.raw_sha256).decode("utf-8")
        assert f"<p>{text}!</p>" in raw


def test_an_empty_page_is_a_failed_check_with_a_reason_not_an_internal_error(
    env: Env, site: Site
) -> None:
    site.set("/empty", "<html><body><main><p> </p></main></body></html>")
    env.sources = [html_source(site, "/empty", "empty")]
    [outcome] = env.check().outcomes
    assert outcome.outcome == "failed" and outcome.error == "no text extracted"
