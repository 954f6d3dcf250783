"""The worker pool as the installed `watcher` script uses it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
