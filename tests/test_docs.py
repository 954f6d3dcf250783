"""Documentation is part of the change: every command is documented and helped, and the
README stays a front door that links to every reference page."""

from __future__ import annotations

import re
from pathlib import Path

import click

from watcher.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The reference: the README is the front door, docs/ holds every command and key.
DOCS = README + "".join(
    path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))
)


def all_commands(group: click.Group, prefix: str = "watcher") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


def test_every_command_has_help_and_a_readme_entry() -> None:
    commands = all_commands(main)
    assert len(commands) >= 12
    for path, command in commands:
        assert (command.help or "").strip(), f"{path} has no help"
        if isinstance(command, click.Group) and not command.invoke_without_command:
            # a group is documented through its subcommands
            continue
        assert f"`{path}" in DOCS, f"docs/ do not document `{path}`"


def test_every_option_is_in_the_readme() -> None:
    for path, command in all_commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    if opt.startswith("--") and opt != "--help":
                        assert opt in DOCS, f"docs/ do not mention {opt} of `{path}`"


def test_quick_start_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", quick, flags=re.S)
    assert len(blocks) == 2, blocks
    run_cmd, test_cmd = blocks
    assert "watcher run" in run_cmd and "pip install" in run_cmd
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_changelog_has_unreleased() -> None:
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_readme_links_every_reference_page() -> None:
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{path.name})" in README, f"README does not link docs/{path.name}"
    assert "(CONTRIBUTING.md)" in README


def test_the_team_setup_in_the_docs_is_a_valid_config(tmp_path: Path) -> None:
    """docs/team.md's config is what a team copies: it must load, every key known."""
    from click.testing import CliRunner

    text = (ROOT / "docs" / "team.md").read_text(encoding="utf-8")
    [toml] = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "validate"], env={})
    assert result.exit_code == 0, result.output
    assert "4 sources" in result.output
    # unset secrets are warnings naming each variable, never silent
    for variable in ("WATCHER_SLACK_TEAM", "WATCHER_TRACKER_SECRET", "WATCHER_TOKEN_DANA"):
        assert variable in result.output
