"""The fix texts and confirm commands of every finding kind are things a user can run: each AWS CLI
command is an operation of botocore's model for its service with flags that are the operation's input
members in kebab case (or the AWS CLI's global options), and the DNS records a fix asks for are
well-formed. The privlink commands they name run on a sandbox in tests/cli/test_fix_commands.py."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from privlink.doctor import CHECKS, run_checks
from privlink.doctor.registry import INTERNAL_ERROR
from privlink.observe.model import Observation

SESSION = botocore.session.get_session()
GLOBAL_OPTIONS = {"query", "profile", "region", "output"}  # the AWS CLI's own options
KINDS = {kind.id: kind for check in CHECKS for kind in check.emits} | {INTERNAL_ERROR.id: INTERNAL_ERROR}
FIXTURES = Path(__file__).parent / "fixtures"
LABEL = re.compile(r"_?(?!-)[a-z0-9-]{1,63}(?<!-)")  # a leading underscore: TXT names such as _dmarc


def aws_commands(text: str) -> list[str]:
    """The AWS CLI commands in a fix (in backticks) or a confirm text (one a line)."""
    quoted = re.findall(r"`(aws [^`]+)`", text)
    lines = [line.split("   #")[0].strip() for line in text.splitlines() if line.startswith("aws ")]
    return quoted + lines


def every_aws_command() -> list[tuple[str, str]]:
    found = []
    for kind in KINDS.values():
        for fix in kind.fixes:
            found += [(kind.id, command) for command in aws_commands(fix)]
        found += [(kind.id, command) for command in aws_commands(kind.confirm)]
    return found


def test_the_fixes_and_confirm_texts_hold_aws_commands():
    named = {command.split()[1:3][1] for _, command in every_aws_command()}
    assert {"start-instances", "authorize-security-group-ingress", "modify-listener"} <= named


@pytest.mark.parametrize(("kind", "command"), every_aws_command(), ids=lambda v: v if len(v) < 60 else v[:60])
def test_an_aws_command_is_an_operation_of_the_model_with_its_members_as_flags(kind, command):
    words = re.findall(r"\"[^\"]*\"|'[^']*'|\S+", command)
    service, operation = words[1], words[2]
    model = SESSION.get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in operations, f"{kind}: aws {service} has no operation {operation}"
    members = model.operation_model(operations[operation]).input_shape.members
    flags = {xform_name(name, "-") for name in members}
    for word in words[3:]:
        if not word.startswith("--"):
            continue
        flag = word[2:]
        known = flag in flags or flag in GLOBAL_OPTIONS or flag.removeprefix("no-") in flags
        assert known, f"{kind}: `aws {service} {operation}` takes no --{flag} ({', '.join(sorted(flags))})"


def test_a_flag_the_model_does_not_have_is_caught():
    model = SESSION.get_service_model("ec2")
    members = model.operation_model("AuthorizeSecurityGroupIngress").input_shape.members
    flags = {xform_name(name, "-") for name in members}
    assert {"group-id", "ip-protocol", "from-port", "to-port", "cidr-ip"} <= flags
    assert "port" not in flags and "cidr" not in flags  # the CLI's shorthands are no model members


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_fix_templates_fill_only_concrete_values():
    """Every `{field}` of a fix is filled by its check; a command in a fix never reads `None`."""
    for kind in KINDS.values():
        for fix in kind.fixes:
            assert "None" not in fix and placeholders(fix) <= {
                "account",
                "action",
                "addresses",
                "az_ids",
                "call",
                "calls",
                "client",
                "consumer",
                "endpoint_id",
                "group_id",
                "health_check_port",
                "instance_ids",
                "it_or_them",
                "listener_arn",
                "name",
                "port",
                "principal",
                "region",
                "regional",
                "seconds",
                "service_id",
                "subject",
                "subnet_id",
                "txt_record",
                "vpc_cidr",
                "vpc_id",
                "vpn_id",
            }, (kind.id, fix)


def dns_name(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return len(labels) >= 2 and all(LABEL.fullmatch(label) for label in labels)


def broken_findings() -> list:
    data = json.loads((FIXTURES / "broken.json").read_text())
    return run_checks(Observation.model_validate(data))


def test_the_records_a_fix_asks_for_are_well_formed():
    """The alias record private-name-unresolved asks to put back, the TXT record private-dns-unverified
    asks to publish: DNS names of valid labels, the TXT value one token."""
    fixes = [f.fix for f in broken_findings()]
    aliases = [m for fix in fixes for m in re.findall(r"`(\S+) A ALIAS (\S+)`", fix)]
    txts = [m for fix in fixes for m in re.findall(r"a TXT record (\S+) = (\S+)", fix)]
    assert aliases and txts, fixes
    for name, target in aliases:
        assert dns_name(name) and dns_name(target), (name, target)
    for name, value in txts:
        assert dns_name(name) and value and '"' not in value, (name, value)
