"""`privlink iam-policy`: the policies as data, and a scan proving every AWS call in the code is granted."""

from __future__ import annotations

import ast
import fnmatch
import functools
import json
from pathlib import Path

import pytest
import yaml

from privlink.iam_policy import MANAGED_POLICY_MAX_CHARS, actions_in, policies, policy_for, policy_size
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.templates.render import render_stacks
from privlink_testing import run_privlink as privlink

SRC = Path(__file__).resolve().parents[1] / "src" / "privlink"

# botocore service name -> the hints a receiver's name may carry (`ec2.describe_vpcs(...)`,
# `self.gateway.client(..., "elbv2")`, `cfn.create_change_set(...)`).
SERVICES: dict[str, tuple[str, ...]] = {
    "ec2": ("ec2",),
    "elbv2": ("elbv2", "elb", "loadbalanc"),
    "cloudformation": ("cloudformation", "cfn", "stack"),
    "acm": ("acm", "cert"),
    "route53": ("route53", "r53", "dns", "zone"),
    "sns": ("sns", "topic"),
    "sts": ("sts",),
    "ssm": ("ssm",),
    "logs": ("logs",),
    "dynamodb": ("dynamodb", "ddb"),
    "lambda": ("lambda",),
    "iam": ("iam",),
    "organizations": ("organizations", "orgs"),
}

# Calls that need no permission in the policies, with why.
ALLOWED_WITHOUT_POLICY = {
    "sts:GetCallerIdentity": "AWS allows it to every identity; no policy can deny it",
    "sts:AssumeRole": "granted by the role's trust policy and the caller's identity policy in the "
    "source account, not by the per-side policies privlink prints",
}

# Files that talk to AWS: the aws target and the AWS observation builders, plus any module that
# imports boto3/botocore or the gateway. The sandbox's own objects (world.create_vpc, ...) are not
# AWS calls and are not scanned.
AWS_MARKERS = ("import boto3", "from boto3", "import botocore", "from botocore", "targets.aws")


@functools.cache
def operation_index() -> dict[str, set[tuple[str, str, str]]]:
    """snake_case method -> {(botocore service, IAM prefix, OperationName)} over the services above."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    index: dict[str, set[tuple[str, str, str]]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        prefix = model.metadata.get("signingName") or model.endpoint_prefix
        for op in model.operation_names:
            index.setdefault(xform_name(op), set()).add((service, prefix, op))
    return index


@functools.cache
def waiter_operations() -> dict[str, set[tuple[str, str, str]]]:
    """waiter name (snake_case) -> the operations it polls."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    out: dict[str, set[tuple[str, str, str]]] = {}
    for service in SERVICES:
        try:
            waiters = session.get_waiter_model(service)
        except Exception:  # noqa: BLE001 - a service without waiters
            continue
        model = session.get_service_model(service)
        prefix = model.metadata.get("signingName") or model.endpoint_prefix
        for name in waiters.waiter_names:
            op = waiters.get_waiter(name).operation
            out.setdefault(xform_name(name), set()).add((service, prefix, op))
    return out


def hinted(receiver: str, candidates: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """The candidates whose service the receiver's text names, or all of them when it names none."""
    text = receiver.lower()
    named = {c for c in candidates if any(h in text for h in SERVICES[c[0]])}
    return named or candidates


def aws_calls(source: str, filename: str = "<src>") -> list[tuple[str, int, set[str]]]:
    """(method, line, {candidate IAM actions}) for every AWS operation called in `source`."""
    index = operation_index()
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, receiver = node.func.attr, ast.unparse(node.func.value)
        candidates: set[tuple[str, str, str]] = set()
        if name in index:
            candidates = hinted(receiver, index[name])
        elif name in ("get_paginator", "get_waiter", "can_paginate") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                table = waiter_operations() if name == "get_waiter" else index
                candidates = hinted(receiver, table.get(arg.value, set()))
                name = f"{name}({arg.value!r})"
        if not candidates:
            name, candidates = named_in_arguments(node, index)
        if candidates:
            found.append((name, node.lineno, {f"{prefix}:{op}" for _, prefix, op in candidates}))
    return found


def named_in_arguments(node: ast.Call, index) -> tuple[str, set[tuple[str, str, str]]]:
    """A gateway call that names the service and the operation as strings: `call("ec2", "describe_vpcs")`."""
    strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    services = [s for s in strings if s in SERVICES]
    for text in strings:
        for service in services:
            ops = {c for c in index.get(xform(text), set()) if c[0] == service}
            if ops:
                return f"{service}.{text}", ops
    return "", set()


def xform(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)


def aws_modules() -> list[Path]:
    files = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        if (
            rel.startswith("targets/aws/")
            or rel.startswith("observe/aws")
            or any(m in text for m in AWS_MARKERS)
        ):
            files.append(path)
    return files


VPN_LINE = "    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n"


def specs_covering_everything():
    """Specs that switch on every optional group: cross-region, private DNS name, VPN, targets."""
    full = parse_spec(
        demo_spec_text(cross_region=True)
        .replace("private_dns_name: null", "private_dns_name: hello.example.com")
        .replace(VPN_LINE, VPN_LINE + "    test_instance: {enabled: true}\n")
    )
    instance_targets = parse_spec(
        demo_spec_text()
        .replace("app: demo ", "app: none ")
        .replace("targets: []", "targets: [{instance: i-0123456789abcdef0}]")
    )
    fleet = parse_spec(
        demo_spec_text() + "consumers_from: {accounts: ['333333333333'], regions: [eu-central-1]}\n"
    )
    approval = yaml.safe_load(demo_spec_text())
    approval["producer"]["endpoint_service"]["auto_approval"] = {"registry": True}
    approval["consumers_from"] = {"organization_unit": "ou-abcd-12345678", "regions": ["eu-west-2"]}
    return [full, instance_targets, fleet, parse_spec(yaml.safe_dump(approval))]


def granted_actions() -> set[str]:
    granted: set[str] = set()
    for spec in specs_covering_everything():
        for policy in policies(spec, "all").values():
            granted |= actions_in(policy)
    return granted


def ungranted(source: str, filename: str, granted: set[str]) -> list[str]:
    missing = []
    for name, line, actions in aws_calls(source, filename):
        if actions & (granted | set(ALLOWED_WITHOUT_POLICY)):
            continue
        missing.append(f"{filename}:{line}: {name} needs one of {sorted(actions)}")
    return missing


def test_every_aws_call_in_the_source_is_granted():
    granted = granted_actions()
    problems = []
    for path in aws_modules():
        problems += ungranted(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)), granted)
    assert not problems, "calls no policy grants:\n" + "\n".join(problems)


def test_scanner_finds_calls_and_flags_what_no_policy_grants():
    source = """
def deploy(gateway):
    ec2 = gateway.client("dev", "eu-central-1", "ec2")
    ec2.create_vpc_endpoint(VpcId="vpc-1")
    cfn = gateway.client("dev", "eu-central-1", "cloudformation")
    cfn.get_paginator("describe_stack_events").paginate(StackName="privlink-hello-producer")
    cfn.get_waiter("stack_create_complete").wait(StackName="x")
    gateway.client("dev", "eu-central-1", "sts").get_caller_identity()
    elbv2.describe_tags(ResourceArns=[])
    ec2.describe_vpcs()
    ec2.create_internet_gateway()
    table.delete_backup(BackupArn="arn")
    gateway.call("prod", "eu-central-1", "elbv2", "describe_target_health", TargetGroupArn="arn")
    gateway.call("prod", "eu-central-1", "ec2", "DeleteNatGateway", NatGatewayId="nat-1")
"""
    calls = {name: actions for name, _, actions in aws_calls(source)}
    assert calls["create_vpc_endpoint"] == {"ec2:CreateVpcEndpoint"}
    assert calls["get_paginator('describe_stack_events')"] == {"cloudformation:DescribeStackEvents"}
    assert calls["get_waiter('stack_create_complete')"] == {"cloudformation:DescribeStacks"}
    missing = ungranted(source, "fixture.py", granted_actions())
    assert calls["elbv2.describe_target_health"] == {"elasticloadbalancing:DescribeTargetHealth"}
    assert len(missing) == 3, missing
    assert "ec2:CreateInternetGateway" in missing[0]
    assert "dynamodb:DeleteBackup" in missing[1]
    assert "ec2:DeleteNatGateway" in missing[2]


def test_receiver_hint_picks_the_service_of_an_ambiguous_operation():
    calls = aws_calls("elbv2.describe_tags(ResourceArns=[])\nec2.describe_tags()\n")
    assert [a for _, _, a in calls] == [
        {"elasticloadbalancing:DescribeTags"},
        {"ec2:DescribeTags"},
    ]


def test_same_region_demo_has_no_multi_region_and_cross_region_has_it(demo_spec, cross_region_spec):
    for side in ("producer", "consumer"):
        assert "vpce:AllowMultiRegion" not in actions_in(policy_for(demo_spec, side))
        assert "vpce:AllowMultiRegion" in actions_in(policy_for(cross_region_spec, side))


def test_producer_and_consumer_policies_hold_what_each_side_does(demo_spec):
    producer = actions_in(policy_for(demo_spec, "producer"))
    consumer = actions_in(policy_for(demo_spec, "consumer"))
    assert {
        "ec2:CreateVpcEndpointServiceConfiguration",
        "ec2:AcceptVpcEndpointConnections",
        "elasticloadbalancing:CreateLoadBalancer",
        "sns:CreateTopic",
        "ssm:GetParameters",
        "ec2:RunInstances",
    } <= producer
    assert "route53:ChangeResourceRecordSets" not in producer  # no private_dns_name in the demo
    assert {
        "ec2:CreateVpcEndpoint",
        "route53:CreateHostedZone",
        "acm:ImportCertificate",
        "acm:DeleteCertificate",
        "ec2:ExportClientVpnClientConfiguration",
        "logs:CreateLogGroup",
    } <= consumer
    assert not any(a.startswith("elasticloadbalancing:") for a in consumer)
    assert "acm:ImportCertificate" not in producer
    stacks = [s for s in policy_for(demo_spec, "consumer")["Statement"] if s["Sid"] == "PrivlinkStacks"]
    assert stacks[0]["Resource"][0] == "arn:aws:cloudformation:*:*:stack/privlink-*/*"


def test_consumer_without_vpn_or_zone_gets_neither():
    spec = parse_spec(
        demo_spec_text()
        .replace("    private_dns: {zone: internal.company, record: hello}\n", "")
        .replace("    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n", "")
    )
    consumer = actions_in(policy_for(spec, "consumer"))
    assert not any(a.startswith(("acm:", "route53:", "logs:")) for a in consumer)
    assert "ec2:CreateClientVpnEndpoint" not in consumer


def test_endpoint_private_dns_may_associate_the_vpc_with_the_managed_zone():
    spec = parse_spec(
        demo_spec_text().replace("    private_dns: {zone: internal.company, record: hello}\n", "")
    )
    assert "route53:AssociateVPCWithHostedZone" not in actions_in(policy_for(spec, "consumer"))
    enabled = parse_spec(
        demo_spec_text()
        .replace("    private_dns: {zone: internal.company, record: hello}\n", "")
        .replace("private_dns_name: null", "private_dns_name: hello.example.com")
        .replace("  - name: dev\n", "  - name: dev\n    private_dns_enabled: true\n")
    )
    assert "EndpointPrivateDns" in statements(policy_for(enabled, "consumer"))


def everything_spec():
    """Every feature that adds statements (the largest policies privlink prints)."""
    data = yaml.safe_load(demo_spec_text(cross_region=True))
    for consumer in data["consumers"]:
        consumer["test_instance"] = {"enabled": True}
        consumer["private_dns_enabled"] = True
    data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
    data["producer"]["endpoint_service"]["notifications"] = True
    data["producer"]["endpoint_service"]["auto_approval"] = {"registry": True}
    data["consumers_from"] = {"accounts": ["333333333333"], "regions": ["eu-west-2"]}
    return parse_spec(yaml.safe_dump(data))


@pytest.mark.parametrize("make_spec", ["cross_region", "everything"])
def test_statements_are_valid_iam_shape(make_spec, cross_region_spec):
    spec = cross_region_spec if make_spec == "cross_region" else everything_spec()
    for policy in policies(spec).values():
        assert policy["Version"] == "2012-10-17"
        sids = [s["Sid"] for s in policy["Statement"]]
        assert len(sids) == len(set(sids))
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Sid"].isalnum()
            assert statement["Action"] == sorted(set(statement["Action"]))
        assert len(json.dumps(policy, separators=(",", ":"))) <= 6144  # managed policy size limit


@pytest.fixture
def spec_dir(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    return tmp_path


def test_cli_json_all_sides(spec_dir):
    result = privlink("iam-policy", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {name.split("-")[0] for name in data} == {"producer", "consumer"}
    assert "producer" in data and "consumer" in data
    assert all(policy["Version"] == "2012-10-17" for policy in data.values())


def test_cli_one_side_prints_the_bare_document(spec_dir):
    result = privlink("iam-policy", "--side", "consumer", "--output", "json", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["Version"] == "2012-10-17"
    assert "acm:ImportCertificate" in actions_in(data)


def test_cli_text_names_the_groups(spec_dir):
    result = privlink("iam-policy", "--output", "text", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    assert "== producer (account prod) ==" in result.stdout
    assert "== consumer (account dev) ==" in result.stdout
    assert "ClientVpn:" in result.stdout


def test_cli_bad_side_is_exit_2(spec_dir):
    result = privlink("iam-policy", "--side", "both", cwd=spec_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_cli_without_spec_is_exit_2(tmp_path):
    result = privlink("iam-policy", cwd=tmp_path)
    assert result.returncode == 2
    assert "privlink init" in result.stderr


def with_test_instance(settings: str = "{enabled: true}"):
    return parse_spec(demo_spec_text().replace(VPN_LINE, VPN_LINE + f"    test_instance: {settings}\n"))


def statements(policy) -> dict:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_test_instance_groups_only_when_a_consumer_enables_it(demo_spec):
    demo = actions_in(policy_for(demo_spec, "consumer"))
    # the demo's consumer has a Client VPN: only its service-linked role, no role of its own, no SSM
    assert {a for a in demo if a.startswith(("iam:", "ssm:"))} == {"iam:CreateServiceLinkedRole"}
    consumer = actions_in(policy_for(with_test_instance(), "consumer"))
    assert {
        "ec2:RunInstances",
        "ssm:GetParameters",
        "iam:CreateRole",
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:AttachRolePolicy",
        "iam:PassRole",
        "route53:AssociateVPCWithHostedZone",
        "ssm:SendCommand",
        "ssm:GetCommandInvocation",
        "ssm:DescribeInstanceInformation",
    } <= consumer
    producer = actions_in(policy_for(with_test_instance(), "producer"))
    assert producer == actions_in(policy_for(demo_spec, "producer"))
    without_endpoints = actions_in(
        policy_for(with_test_instance("{enabled: true, ssm_endpoints: false}"), "consumer")
    )
    assert "ssm:SendCommand" in without_endpoints
    assert "EndpointPrivateDns" not in statements(
        policy_for(with_test_instance("{enabled: true, ssm_endpoints: false}"), "consumer")
    )


def test_test_instance_role_statements_are_narrow():
    found = statements(policy_for(with_test_instance(), "consumer"))
    attach = found["CfnIamManagedPolicies"]
    assert attach["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    assert attach["Resource"] == "arn:aws:iam::*:role/privlink-*"
    assert attach["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    }
    passing = found["CfnPassRole"]
    assert passing["Action"] == ["iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    role = found["CfnIamByName"]
    assert "iam:AttachRolePolicy" not in role["Action"] and "iam:PassRole" not in role["Action"]
    assert "iam:PutRolePolicy" not in role["Action"]  # the test instance's role has no inline policy
    assert role["Resource"] == [
        "arn:aws:iam::*:role/privlink-*",
        "arn:aws:iam::*:instance-profile/privlink-*",
    ]
    assert not any(a.startswith("iam:") for a in found["SsmProbeRead"]["Action"])


def test_send_command_runs_only_on_the_links_test_instances():
    spec = with_test_instance()
    found = statements(policy_for(spec, "consumer"))
    sending = {sid: s for sid, s in found.items() if "ssm:SendCommand" in s["Action"]}
    assert set(sending) == {"SsmProbeDocument", "SsmProbeTestInstances"}
    document, instances = sending["SsmProbeDocument"], sending["SsmProbeTestInstances"]
    assert document["Action"] == instances["Action"] == ["ssm:SendCommand"]
    assert document["Resource"] == "arn:aws:ssm:*::document/AWS-RunShellScript"
    assert "Condition" not in document
    assert instances["Resource"] == "arn:aws:ec2:*:*:instance/*"
    # Only tags CloudFormation sets itself: the aws: prefix is reserved, so the identity's own
    # ec2:CreateTags cannot make another instance match (privlink's own tags could be copied).
    assert instances["Condition"] == {
        "StringEquals": {"ssm:resourceTag/aws:cloudformation:logical-id": "TestInstance"},
        "StringLike": {"ssm:resourceTag/aws:cloudformation:stack-name": "privlink-hello-consumer-*"},
    }
    # The condition admits the rendered test instance: its logical ID in a consumer stack's name ...
    stacks = render_stacks(spec)
    pattern = instances["Condition"]["StringLike"]["ssm:resourceTag/aws:cloudformation:stack-name"]
    logical_id = instances["Condition"]["StringEquals"]["ssm:resourceTag/aws:cloudformation:logical-id"]
    consumer = next(s for s in stacks if s.stack_name == "privlink-hello-consumer-dev")
    assert fnmatch.fnmatchcase(consumer.stack_name, pattern)
    assert consumer.template["Resources"][logical_id]["Type"] == "AWS::EC2::Instance"
    # ... and not the demo app's instances of the same link (the producer stack, other logical IDs).
    for stack in stacks:
        demo = [lid for lid, r in stack.template["Resources"].items() if r["Type"] == "AWS::EC2::Instance"]
        if stack.stack_name != consumer.stack_name:
            assert not (fnmatch.fnmatchcase(stack.stack_name, pattern) and logical_id in demo)


def test_send_command_follows_the_link_name():
    spec = parse_spec(
        demo_spec_text()
        .replace("name: hello", "name: orders", 1)
        .replace(VPN_LINE, VPN_LINE + "    test_instance: {enabled: true}\n")
    )
    condition = statements(policy_for(spec, "consumer"))["SsmProbeTestInstances"]["Condition"]
    assert (
        condition["StringLike"]["ssm:resourceTag/aws:cloudformation:stack-name"]
        == "privlink-orders-consumer-*"
    )


def test_cli_text_shows_the_tag_condition_and_the_way_to_another_instance(spec_dir):
    spec = spec_dir / "privlink.yaml"
    spec.write_text(
        spec.read_text().replace(VPN_LINE, VPN_LINE + "    test_instance: {enabled: true}\n"),
        encoding="utf-8",
    )
    result = privlink("iam-policy", "--side", "consumer", "--output", "text", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("- SsmProbeTestInstances:"))
    assert "--instance" in lines[at] and "privlink-hello-consumer-*" in lines[at]
    assert lines[at + 1 : at + 4] == [
        "    ssm:SendCommand",
        "    on arn:aws:ec2:*:*:instance/*",
        "    when StringEquals ssm:resourceTag/aws:cloudformation:logical-id=TestInstance; "
        "StringLike ssm:resourceTag/aws:cloudformation:stack-name=privlink-hello-consumer-*",
    ]


def test_a_side_over_the_managed_policy_limit_comes_as_several_policies_within_it():
    spec = everything_spec()
    for side in ("producer", "consumer"):
        whole = policy_for(spec, side)
        assert policy_size(whole) > MANAGED_POLICY_MAX_CHARS  # what IAM would refuse as one policy
        found = policies(spec, side)
        assert list(found) == [side, f"{side}-2"]
        assert all(policy_size(p) <= MANAGED_POLICY_MAX_CHARS for p in found.values())
        assert all(p["Version"] == "2012-10-17" for p in found.values())
        # every statement once, in order: together they grant exactly what the one policy would
        assert [s for p in found.values() for s in p["Statement"]] == whole["Statement"]
    # a side within the limit stays one policy under its own name
    small = parse_spec(
        demo_spec_text()
        .replace("    private_dns: {zone: internal.company, record: hello}\n", "")
        .replace("    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n", "")
    )
    assert list(policies(small, "consumer")) == ["consumer"]
    assert policies(small, "consumer")["consumer"] == policy_for(small, "consumer")


def test_cli_prints_every_policy_of_a_split_side(spec_dir):
    data = yaml.safe_load(everything_spec().model_dump_json(exclude_none=True))
    (spec_dir / "privlink.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    one_side = privlink("iam-policy", "--side", "producer", cwd=spec_dir)
    assert one_side.returncode == 0, one_side.stderr
    assert list(json.loads(one_side.stdout)) == ["producer", "producer-2"]
    both = privlink("iam-policy", cwd=spec_dir)
    assert list(json.loads(both.stdout)) == ["producer", "producer-2", "consumer", "consumer-2"]
    text = privlink("iam-policy", "--side", "producer", "--output", "text", cwd=spec_dir).stdout
    assert (
        "(2 policies: together over IAM's 6144 characters for one managed policy; attach every one)" in text
    )
    assert "\nproducer-2:\n{" in text
