"""The CLI takes the project lock for exactly the commands that change a project, in one place."""

from __future__ import annotations

import fcntl
import os

import pytest
import typer

from privlink.cli import main
from privlink.cli.locking import WAIT_ENV, lock_wait
from privlink.errors import BadInput
from privlink.project_lock import DEFAULT_WAIT
from privlink.spec.demo import demo_spec_text

MUTATING = {
    "up",
    "down",
    "connections",  # accept and reject; `connections list` is read-only
    "vpn-config",
    "sandbox inject",  # `sandbox inject --list` is read-only
    "sandbox clear",
    "consumers add",
    "consumers remove",
}


def leaf_commands() -> dict[str, object]:
    main.register_commands()
    found: dict[str, object] = {}

    def walk(group, prefix: str) -> None:
        for name, command in group.commands.items():
            path = f"{prefix} {name}".strip()
            if getattr(command, "commands", None) is not None:
                walk(command, path)
            else:
                found[path] = command

    walk(typer.main.get_command(main.app), "")
    return found


def test_exactly_the_commands_that_change_a_project_take_the_lock():
    locked = {
        path for path, command in leaf_commands().items() if getattr(command.callback, "mutates_state", False)
    }
    assert locked == MUTATING


@pytest.fixture
def held(tmp_path, monkeypatch, capsys):
    """A project whose lock another command holds; `run(*argv)` -> (exit code, stderr lines)."""
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(WAIT_ENV, "0")
    (tmp_path / ".privlink").mkdir(mode=0o700)
    fd = os.open(tmp_path / ".privlink" / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4321 privlink up\n")

    def run(*argv: str) -> tuple[int, list[str]]:
        capsys.readouterr()
        try:
            main.run(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, capsys.readouterr().err.splitlines()

    yield run
    os.close(fd)


HELD = "held by `privlink up` (pid 4321): one command changes a project at a time"


@pytest.mark.parametrize(
    "argv",
    [
        ["up"],
        ["down", "--yes"],
        ["connections", "accept", "vpce-0aaaaaaaaaaaaaaa1"],
        ["connections", "reject", "vpce-0aaaaaaaaaaaaaaa1"],
        ["vpn-config", "--out", "dev.ovpn"],
        ["sandbox", "inject", "targets-down"],
        ["sandbox", "clear"],
        ["consumers", "add", "111111111111"],
        ["consumers", "remove", "111111111111"],
    ],
)
def test_a_mutating_command_exits_1_naming_the_holder(held, argv):
    code, lines = held(*argv)
    assert code == 1
    assert lines[-1].startswith("privlink: error: ") and HELD in lines[-1], lines


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["plan"],
        ["connections", "list"],
        ["sandbox", "inject", "--list"],
        ["cost"],
        ["iam-policy"],
    ],
)
def test_a_read_only_command_does_not_wait(held, argv):
    code, lines = held(*argv)
    assert not any("lock" in line for line in lines), lines
    assert code == 0, lines


def test_the_wait_comes_from_the_environment():
    assert lock_wait({}) == DEFAULT_WAIT
    assert lock_wait({WAIT_ENV: "2.5"}) == 2.5
    for bad in ("soon", "-1", "inf", "nan"):
        with pytest.raises(BadInput) as info:
            lock_wait({WAIT_ENV: bad})
        assert info.value.where == WAIT_ENV
