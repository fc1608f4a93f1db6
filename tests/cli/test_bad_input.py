"""Bad input everywhere (issue 6): every command given a missing, empty, malformed or wrong-typed
spec, bad flags or a corrupt `.privlink/` answers with exit 2 and ONE line that names what is wrong
and the fix; no traceback, nothing created, no process started.

The commands are enumerated from the typer app itself, so a new command is covered without editing
this file (a command with required arguments needs an entry in REQUIRED_ARGS, and one that reads the
sandbox state an entry in STATE_READS: two tests below fail until it has them).
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import subprocess
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlink.cli import main
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink_testing import run_privlink

# -- the commands, from the app --------------------------------------------------------------------


def command_tree() -> tuple[dict[tuple[str, ...], typing.Any], list[tuple[str, ...]]]:
    """Every leaf command as (path -> click command), and every group's path."""
    main.register_commands()
    root = typer.main.get_command(main.app)
    leaves: dict[tuple[str, ...], typing.Any] = {}
    groups: list[tuple[str, ...]] = []

    def walk(group: typing.Any, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            path = (*prefix, name)
            if getattr(command, "commands", None) is not None:
                groups.append(path)
                walk(command, path)
            else:
                leaves[path] = command

    walk(root, ())
    return leaves, groups


COMMANDS, GROUPS = command_tree()

# What gets each command past its own argument checks to the point where it reads the spec.
REQUIRED_ARGS: dict[tuple[str, ...], list[str]] = {
    ("render",): ["--out", "rendered"],
    ("vpn-config",): ["--out", "dev.ovpn"],
    ("diagram",): ["--out", "topology.svg"],
    ("consumers", "add"): ["111111111111"],
    ("consumers", "remove"): ["111111111111"],
    ("sandbox", "inject"): ["targets-down"],
    ("down",): ["--yes"],
}

NEEDS_NO_SPEC: dict[tuple[str, ...], str] = {
    ("init",): "writes the spec; its refusal to overwrite one is tested below",
}

SPEC_COMMANDS = sorted(path for path in COMMANDS if path not in NEEDS_NO_SPEC)


def argv_for(path: tuple[str, ...]) -> list[str]:
    return [*path, *REQUIRED_ARGS.get(path, [])]


def ids(paths) -> list[str]:
    return [" ".join(p) for p in paths]


def test_the_enumerated_commands_are_the_real_ones():
    names = set(ids(COMMANDS))
    assert len(names) >= 15, names
    assert {"init", "up", "status", "test", "doctor", "down", "connections", "vpn-config"} <= names
    assert {"sandbox inject", "sandbox clear", "consumers add", "fleet plan", "render", "plan"} <= names
    assert {("sandbox",), ("consumers",), ("fleet",)} <= set(GROUPS)


def test_every_required_argument_has_a_value_here():
    for path, command in COMMANDS.items():
        required = [p.name for p in command.params if p.required]
        if required:
            assert path in REQUIRED_ARGS, f"add {' '.join(path)} {required} to REQUIRED_ARGS"


# -- running the CLI in-process --------------------------------------------------------------------


@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def __str__(self) -> str:
        return f"privlink {' '.join(self.argv)} -> {self.code}\nstdout: {self.out!r}\nstderr: {self.err!r}"


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root`: file contents, None for a directory (root reads everything)."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            found[rel] = None
        else:
            try:
                found[rel] = path.read_bytes()
            except OSError:
                found[rel] = b"<unreadable>"
    return found


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`cli(*argv)` runs `privlink ARGV` in `tmp_path`; `Outcome` says what it did to the directory."""
    monkeypatch.chdir(tmp_path)
    started: list[str] = []

    def no_process(args, *rest, **kwargs):
        started.append(str(args))
        raise OSError("bad input must not start a process")

    monkeypatch.setattr(subprocess, "Popen", no_process)

    def run(*argv: str) -> Outcome:
        capsys.readouterr()
        before = snapshot(tmp_path)
        try:
            main.run(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        after = snapshot(tmp_path)
        return Outcome(
            list(argv),
            code,
            out,
            err,
            created=sorted(set(after) - set(before)),
            changed=sorted(k for k in before if k in after and before[k] != after[k]),
            started=list(started),
        )

    return run


def assert_bad_input(outcome: Outcome, *words: str, stdout: bool = False) -> str:
    """Exit 2, one line on stderr with a hint, naming `words`; nothing created or started."""
    assert outcome.code == 2, outcome
    assert len(outcome.lines) == 1, outcome
    line = outcome.lines[0]
    assert line.startswith("privlink: error: ") and "; hint: " in line, outcome
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    assert "Traceback" not in outcome.out + outcome.err, outcome
    if not stdout:
        assert outcome.out == "", outcome
    assert not outcome.created, f"{outcome}\ncreated: {outcome.created}"
    assert not outcome.changed, f"{outcome}\nchanged: {outcome.changed}"
    assert not outcome.started, f"{outcome}\nstarted: {outcome.started}"
    return line


# -- a) to d): the spec ----------------------------------------------------------------------------

DEMO = yaml.safe_load(demo_spec_text())


def demo_with(path: tuple[typing.Any, ...], value: typing.Any) -> str:
    data = json.loads(json.dumps(DEMO))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


# case -> (what privlink.yaml holds (None: no file, a dict: a directory), words the line must name)
SPEC_CASES: dict[str, tuple[typing.Any, list[str]]] = {
    "missing": (None, ["privlink.yaml", "no spec file", "privlink init"]),
    "directory": ({}, ["privlink.yaml", "is a directory", "--spec"]),
    "empty": ("", ["privlink.yaml", "empty", "privlink init"]),
    "only-comments": ("# a spec, one day\n\n", ["privlink.yaml", "empty", "privlink init"]),
    "malformed-yaml": (
        "name: hello\nproducer: {account: prod\n",
        ["privlink.yaml:", "YAML syntax error", "fix the YAML"],
    ),
    "not-utf8": (b"name: \xff\xfe\x00hello\n", ["privlink.yaml", "UTF-8"]),
    "a-list-not-a-mapping": ("- name: hello\n", ["privlink.yaml", "mapping", "privlink init"]),
    "producer-is-5": (demo_with(("producer",), 5), ["privlink.yaml: producer", "mapping of keys"]),
    "port-is-eighty": (
        demo_with(("producer", "service", "port"), "eighty"),
        ["producer.service.port", "whole number"],
    ),
    "list-for-a-mapping": (demo_with(("producer", "vpc"), ["10.20.0.0/16"]), ["producer.vpc", "mapping"]),
    "mapping-for-a-list": (demo_with(("consumers",), {"name": "dev"}), ["consumers", "YAML list"]),
    "bool-as-text": (
        demo_with(("producer", "service", "cross_zone"), "sometimes"),
        ["producer.service.cross_zone", "true or false"],
    ),
    "unknown-key": (
        demo_with(("producer", "servce"), {"port": 8080}),
        ["producer.servce", "unknown key", "did you mean 'service'?"],
    ),
}


def write_spec(where: Path, content: typing.Any) -> None:
    path = where / "privlink.yaml"
    if content is None:
        return
    if isinstance(content, dict):
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("case", list(SPEC_CASES))
def test_every_command_answers_a_bad_spec_in_one_line(case, cli, tmp_path):
    content, words = SPEC_CASES[case]
    write_spec(tmp_path, content)
    for path in SPEC_COMMANDS:
        assert_bad_input(cli(*argv_for(path)), *words)


def test_an_unreadable_spec_is_one_line(cli, tmp_path, monkeypatch):
    spec = tmp_path / "privlink.yaml"
    spec.write_text(demo_spec_text(), encoding="utf-8")
    spec.chmod(0)
    if os.geteuid() == 0:
        Unreadable(monkeypatch, spec.resolve())
    for path in SPEC_COMMANDS:
        assert_bad_input(cli(*argv_for(path)), "privlink.yaml", "Permission denied", "permissions")


def test_a_bad_spec_named_by_spec_is_named_in_the_line(cli, tmp_path):
    for path in SPEC_COMMANDS:
        line = assert_bad_input(cli("--spec", "elsewhere/link.yaml", *argv_for(path)), "privlink init")
        assert "elsewhere/link.yaml" in line


def test_init_refuses_to_overwrite_and_reports_an_unwritable_path(cli, tmp_path):
    (tmp_path / "privlink.yaml").write_text("name: mine\n", encoding="utf-8")
    assert_bad_input(cli("init"), "privlink.yaml", "already exists", "--force")
    assert (tmp_path / "privlink.yaml").read_text(encoding="utf-8") == "name: mine\n"
    assert_bad_input(cli("--spec", "no/such/dir/privlink.yaml", "init"), "no/such/dir", "--spec")
    (tmp_path / "adir").mkdir()
    assert_bad_input(cli("--spec", "adir", "init", "--force"), "adir", "--spec")


def test_a_group_without_its_command_shows_help_and_one_line(cli):
    for group in GROUPS:
        outcome = cli(*group)
        assert_bad_input(outcome, f"{' '.join(group)}: needs a command", stdout=True)
        assert "Usage" in outcome.out
    assert_bad_input(cli(), "needs a command", stdout=True)


# -- e) flags --------------------------------------------------------------------------------------


def option_kind(param: typing.Any) -> str | None:
    """'choice' for an enum option, 'number' for an int/float one, else None."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return "choice"
        if candidate in (int, float):
            return "number"
    return None


def options_of(command: typing.Any) -> list[typing.Any]:
    return [p for p in command.params if getattr(p, "opts", None) and p.opts[0].startswith("--")]


BAD_VALUE = {"choice": "xml", "number": "eighty"}


def flag_cases() -> list[tuple[list[str], list[str]]]:
    """(argv, words the line must name) for every command's options."""
    cases: list[tuple[list[str], list[str]]] = []
    for path, command in sorted(COMMANDS.items()):
        name = " ".join(path)
        base = argv_for(path)
        see = f"privlink {name} --help"
        cases.append(([*base, "--no-such-flag"], [f"{name}: ", "--no-such-flag", see]))
        cases.append((["--target", "nowhere", *base], ["--target", "'nowhere'", "local", "aws"]))
        for option in options_of(command):
            flag = option.opts[0]
            kind = option_kind(option)
            if kind is not None:
                cases.append(([*base, flag, BAD_VALUE[kind]], [f"{name}: ", flag, see]))
            if not getattr(option, "is_flag", False):
                cases.append(([*path, flag], [f"{name}: ", flag, "requires an argument", see]))
        if not any(getattr(p, "nargs", 1) == -1 for p in command.params):
            cases.append(([*base, "surplus"], [f"{name}: ", "unexpected extra argument", "surplus", see]))
    return cases


FLAG_CASES = flag_cases()


def test_flag_cases_cover_the_known_options():
    argvs = {" ".join(argv) for argv, _ in FLAG_CASES}
    assert "status --output xml" in argvs and "cost --vpn-users eighty" in argvs
    assert "sandbox inject targets-down --output xml" in argvs
    assert "--target nowhere up" in argvs and "render --out" in argvs
    assert len(FLAG_CASES) > 5 * len(COMMANDS)


def test_every_bad_flag_is_one_line(cli, tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    for argv, words in FLAG_CASES:
        assert_bad_input(cli(*argv), *words)


# Values the commands themselves check (after click has parsed them).
VALUE_CASES: list[tuple[list[str], list[str]]] = [
    (["diagram", "--out", "topology.bmp"], ["--out", "topology.bmp", ".png or .svg"]),
    (["diagram", "--out", "no/such/dir/topology.svg"], ["--out", "does not exist"]),
    (["render", "--out", "privlink.yaml"], ["--out", "not a directory"]),
    (["vpn-config", "--out", "."], ["--out", "is a directory", "file path"]),
    (["vpn-config", "--out", "no/such/dir/dev.ovpn"], ["--out", "does not exist"]),
    (["vpn-config", "--out", "dev.ovpn", "--consumer", "nobody"], ["--consumer", "nobody", "consumers:"]),
    (["test", "--consumer", "nobody"], ["--consumer", "'nobody'", "dev"]),
    (["test", "--via", "ssm"], ["--via", "aws target"]),
    (["cost", "--gb-per-month", "-5"], ["--gb-per-month", "negative"]),
    (["consumers", "add", "12345"], ["12345", "12-digit"]),
    (["connections", "accept"], ["connections accept", "needs endpoint IDs", "vpce-"]),
    (["connections", "accept", "vpce-svc-0a1b2c3d4e5f60718"], ["not an endpoint ID"]),
    (["connections", "approve", "vpce-0aaaaaaaaaaaaaaa1"], ["'approve'", "list, accept, reject"]),
    (["sandbox", "inject", "no-such-fault"], ["FAULT", "no-such-fault", "--list"]),
    (["sandbox", "inject"], ["FAULT", "--list"]),
    (["--target", "aws", "sandbox", "clear"], ["--target", "local"]),
    (["down"], ["--yes"]),
    (["fleet", "plan"], ["consumers_from", "consumers_from:"]),
]


def test_values_the_commands_check_are_one_line(cli, tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    for argv, words in VALUE_CASES:
        assert_bad_input(cli(*argv), *words)


# -- f) a corrupt .privlink/ -----------------------------------------------------------------------

REGISTRY_SPEC = demo_with(("producer", "endpoint_service", "auto_approval"), {"registry": True})

# Which state files each command reads on the local target; every file it reads must be checked.
# `diagram` reads the state only to label the picture: a corrupt state gives the spec-only drawing.
STATE_READS: dict[tuple[str, ...], set[str]] = {
    ("plan",): {"sandbox.json"},
    ("up",): {"sandbox.json", "local.json", "dataplane-runtime.json", "registry.json"},
    ("status",): {"sandbox.json", "local.json", "dataplane-runtime.json"},
    ("test",): {"dataplane-runtime.json"},  # the spec names what it resolves: no world needed
    ("doctor",): {"sandbox.json", "dataplane-runtime.json"},
    # `down` stops the data plane even when its runtime file is corrupt (found by its command line,
    # with a warning naming the file: tests/targets/local/test_identity_and_lock.py)
    ("down",): {"sandbox.json"},
    ("connections",): {"sandbox.json"},
    ("vpn-config",): {"sandbox.json"},
    ("sandbox", "inject"): {"sandbox.json", "local.json", "dataplane-runtime.json"},
    ("sandbox", "clear"): {"local.json", "sandbox.before-faults.json", "dataplane-runtime.json"},
    ("consumers", "add"): {"registry.json"},
    ("consumers", "remove"): {"registry.json"},
    ("consumers", "list"): {"registry.json"},
}
NO_STATE: dict[tuple[str, ...], str] = {
    ("init",): "writes the spec only",
    ("render",): "renders templates from the spec only",
    ("cost",): "estimates from the spec only",
    ("iam-policy",): "derives policies from the spec only",
    ("fleet", "plan"): "plans StackSets from the spec only",
    ("diagram",): "the state only labels the picture; a corrupt one gives the spec-only drawing",
}
STATE_FILES = sorted({name for names in STATE_READS.values() for name in names})


def test_every_command_is_classified_by_the_state_it_reads():
    for path in COMMANDS:
        assert (path in STATE_READS) != (path in NO_STATE), f"classify {' '.join(path)} here"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    """A `.privlink/` as `up` leaves it (the data plane aside), with one registered consumer."""
    from privlink.approval.registry import LocalRegistry
    from privlink.targets.local.target import LocalTarget

    root = tmp_path_factory.mktemp("deployed")
    (root / "privlink.yaml").write_text(REGISTRY_SPEC, encoding="utf-8")
    target = LocalTarget(parse_spec(REGISTRY_SPEC), root / ".privlink")
    target.apply_dataplane = lambda world, progress=None: None  # type: ignore[method-assign]
    target.wait_until_serving = lambda progress=None: None  # type: ignore[method-assign]
    target.up()
    LocalRegistry(root / ".privlink").add("222222222222", name="dev")
    state = root / ".privlink"
    # Files that exist only at times: a runtime whose process is gone, the world before a fault.
    (state / "dataplane-runtime.json").write_text(
        json.dumps({"pid": 2**22 + 1, "ready": True, "generation": 1, "dns": "127.9.0.1:5353"}),
        encoding="utf-8",
    )
    shutil.copy(state / "sandbox.json", state / "sandbox.before-faults.json")
    assert set(STATE_FILES) <= {p.name for p in state.iterdir()}
    return root


def install(deployed: Path, where: Path) -> Path:
    """A copy of the deployed spec and state in `where`; returns its `.privlink/`."""
    shutil.copy(deployed / "privlink.yaml", where / "privlink.yaml")
    shutil.copytree(deployed / ".privlink", where / ".privlink")
    return where / ".privlink"


WRONG_TYPED: dict[str, typing.Any] = {
    "sandbox.json": {"stacks": "none", "accounts": [1, 2]},
    "sandbox.before-faults.json": {"stacks": "none"},
    "local.json": {"loopback_block": 5, "faults": "all", "steps": []},
    "registry.json": {"version": 1, "consumers": {"222222222222": {"account_id": 5, "name": []}}},
    "dataplane-runtime.json": {"pid": "1234", "endpoints": []},
}


class Unreadable:
    """Simulates EACCES where permissions do not apply (tests run as root)."""

    def __init__(self, monkeypatch, path: Path) -> None:
        self.path = path
        original_read_text, original_read_bytes = Path.read_text, Path.read_bytes

        def guard(original):
            def read(self_, *args, **kwargs):
                if os.path.abspath(self_) == str(path):
                    raise PermissionError(13, "Permission denied", str(self_))
                return original(self_, *args, **kwargs)

            return read

        monkeypatch.setattr(Path, "read_text", guard(original_read_text))
        monkeypatch.setattr(Path, "read_bytes", guard(original_read_bytes))


def corrupt(state: Path, name: str, kind: str, monkeypatch) -> None:
    path = state / name
    if kind == "truncated":
        text = path.read_bytes()
        path.write_bytes(text[: len(text) // 2])
    elif kind == "wrong-typed":
        path.write_text(json.dumps(WRONG_TYPED[name]), encoding="utf-8")
    elif kind == "a-list":
        path.write_text('["not", "a", "mapping"]', encoding="utf-8")
    elif kind == "directory":
        path.unlink()
        path.mkdir()
        (path / "inside").write_text("{}", encoding="utf-8")
    elif kind == "unreadable":
        path.chmod(0)
        if os.geteuid() == 0:
            Unreadable(monkeypatch, path.resolve())
    else:
        raise AssertionError(kind)


CORRUPTIONS = ["truncated", "wrong-typed", "a-list", "directory", "unreadable"]


@pytest.mark.parametrize("name", STATE_FILES)
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_state_file_is_named_by_every_command_that_reads_it(
    name, kind, deployed, cli, tmp_path, monkeypatch
):
    state = install(deployed, tmp_path)
    corrupt(state, name, kind, monkeypatch)
    readers = sorted(path for path, names in STATE_READS.items() if name in names)
    assert readers
    for path in readers:
        line = assert_bad_input(cli(*argv_for(path)), f".privlink/{name}")
        assert "privlink init" not in line  # the spec is fine: the fix is about the state


def test_a_state_directory_that_is_a_file_is_named(deployed, cli, tmp_path):
    (tmp_path / "privlink.yaml").write_text(REGISTRY_SPEC, encoding="utf-8")
    (tmp_path / ".privlink").write_text("not a directory", encoding="utf-8")
    for path in sorted(STATE_READS):
        assert_bad_input(cli(*argv_for(path)), ".privlink", "not a directory")


def test_a_corrupt_certificate_is_named_or_replaced(deployed, cli, tmp_path):
    state = install(deployed, tmp_path)
    key = state / "certs" / "dev" / "client.key"
    key.unlink()
    key.mkdir()
    assert_bad_input(cli("vpn-config", "--out", "dev.ovpn"), ".privlink/certs/dev/client.key")
    key.rmdir()
    key.write_text("-----BEGIN PRIVATE KEY-----\ntruncated", encoding="utf-8")
    outcome = cli("vpn-config", "--out", "dev.ovpn")  # a key that does not parse is made anew
    assert outcome.code == 0, outcome
    assert "BEGIN PRIVATE KEY" not in outcome.out + outcome.err
    assert (tmp_path / "dev.ovpn").stat().st_mode & 0o077 == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# One reader per file; what may be written there: any JSON, a cut-off file, bytes that are not text.
READER = {
    "sandbox.json": ("status",),
    "local.json": ("status",),
    "dataplane-runtime.json": ("doctor",),
    "registry.json": ("consumers", "list"),
    "sandbox.before-faults.json": ("sandbox", "clear"),
}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(READER)),
    content=st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.tuples(json_values, st.integers(min_value=0, max_value=60)).map(
            lambda vc: json.dumps({"stacks": vc[0]}).encode()[: vc[1]]
        ),
        st.binary(max_size=40),
    ),
)
def test_whatever_a_state_file_holds_the_answer_is_a_result_or_one_line(
    name, content, deployed, cli, tmp_path
):
    where = Path(tempfile.mkdtemp(dir=tmp_path))
    os.chdir(where)  # `cli` watches tmp_path, which holds `where`
    state = install(deployed, where)
    (state / name).write_bytes(content)
    outcome = cli(*READER[name])
    assert "Traceback" not in outcome.out + outcome.err, outcome
    assert "internal" not in outcome.err, outcome
    if outcome.code != 0:
        assert_bad_input(outcome, f".privlink/{name}")
    shutil.rmtree(where)


# -- the real entry point --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,spec,words",
    [
        (["status"], None, ["privlink.yaml", "privlink init"]),
        (["render", "--out", "out"], "name: [hello\n", ["YAML syntax error"]),
        (["cost", "--vpn-users", "many"], demo_spec_text(), ["--vpn-users", "privlink cost --help"]),
        (["sandbox"], demo_spec_text(), ["sandbox: needs a command"]),
        (["--target", "nowhere", "plan"], demo_spec_text(), ["--target", "'nowhere'"]),
    ],
    ids=["no-spec", "malformed-yaml", "bad-int", "group-alone", "bad-target"],
)
def test_the_installed_entry_point_answers_in_one_line(argv, spec, words, tmp_path):
    if spec is not None:
        (tmp_path / "privlink.yaml").write_text(spec, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_privlink(*argv, cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result
    assert len(lines) == 1 and lines[0].startswith("privlink: error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_help_is_still_the_help(tmp_path):
    result = run_privlink("--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert "Usage" in result.stdout and all(path[0] in result.stdout for path in COMMANDS)
