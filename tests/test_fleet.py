from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from privlink.errors import DeployFailed, SpecError
from privlink.fleet import (
    Instance,
    StackSetRunner,
    bench_render_plan,
    delete_calls,
    deploy_calls,
    fleet_allowed_principals,
    minimal_render,
    plan_fleet,
    resolve_parameters,
)
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text

OU = "ou-ab12-cdef3456"
OUTPUTS = {
    "privlink-hello-producer": {"ServiceName": "com.amazonaws.vpce.eu-central-1.vpce-svc-0123456789abcdef0"}
}


def fleet_spec(fleet: str, approval: bool = True) -> object:
    text = demo_spec_text()
    if approval:
        text = text.replace("auto_accept: true", "auto_accept: true\n    auto_approval: {registry: true}")
    return parse_spec(text + "consumers_from: " + fleet + "\n")


@pytest.fixture
def ou_spec():
    return fleet_spec(
        f"{{organization_unit: {OU}, regions: [eu-central-1, eu-west-2], "
        "template_consumer: {vpc: {cidr: 10.30.0.0/16, azs: 2}}}"
    )


@pytest.fixture
def accounts_spec():
    return fleet_spec("{accounts: ['222222222222', '333333333333'], regions: [eu-central-1]}")


@pytest.fixture
def cfn(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("cloudformation", region_name="eu-central-1")


def targets_of(call):
    if "Accounts" in call.kwargs:
        assert "DeploymentTargets" not in call.kwargs  # self-managed: Accounts, never both
        return {"Accounts": call.kwargs["Accounts"]}
    return call.kwargs.get("DeploymentTargets")


def tokens():
    count = iter(range(1000))
    return lambda: f"op-{next(count)}"


def test_ou_fleet_plans_service_managed_stack_sets_per_region_kind(ou_spec):
    home, remote = plan_fleet(ou_spec, minimal_render)
    assert (home.name, home.regions) == ("privlink-hello-fleet", ("eu-central-1",))
    assert (remote.name, remote.regions) == ("privlink-hello-fleet-remote", ("eu-west-2",))
    assert home.permission_model == "SERVICE_MANAGED"
    assert home.deployment_targets == {"OrganizationalUnitIds": [OU]}
    assert home.auto_deployment == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert resolve_parameters(home, OUTPUTS) == [
        {"ParameterKey": "ServiceName", "ParameterValue": OUTPUTS["privlink-hello-producer"]["ServiceName"]}
    ]
    assert fleet_allowed_principals(ou_spec) == ["*"]
    assert "eu-west-2" in ou_spec.supported_regions
    assert any("consumers_from.organization_unit" in w for w in ou_spec.warnings())


def test_render_gets_the_template_consumer_in_each_region(ou_spec):
    seen = []

    def render(spec, consumer):
        seen.append((consumer.name, consumer.region, consumer.vpc.cidr))
        return minimal_render(spec, consumer)

    plan_fleet(ou_spec, render)
    assert seen == [("fleet", "eu-central-1", "10.30.0.0/16"), ("fleet", "eu-west-2", "10.30.0.0/16")]


def test_account_fleet_is_self_managed_with_account_principals(accounts_spec):
    (plan,) = plan_fleet(accounts_spec, minimal_render)
    assert plan.permission_model == "SELF_MANAGED" and plan.auto_deployment is None
    assert plan.deployment_targets == {"Accounts": ["222222222222", "333333333333"]}
    assert fleet_allowed_principals(accounts_spec) == [
        "arn:aws:iam::222222222222:root",
        "arn:aws:iam::333333333333:root",
    ]


def test_no_fleet_no_plans(demo_spec):
    assert plan_fleet(demo_spec, minimal_render) == [] and fleet_allowed_principals(demo_spec) == []


@pytest.mark.parametrize(
    "fleet, approval, field",
    [
        (
            f"{{organization_unit: {OU}, accounts: ['222222222222'], regions: [eu-central-1]}}",
            True,
            "consumers_from",
        ),
        ("{regions: [eu-central-1]}", True, "consumers_from"),
        ("{organization_unit: ou-bad, regions: [eu-central-1]}", True, "consumers_from.organization_unit"),
        ("{accounts: ['2222'], regions: [eu-central-1]}", True, "consumers_from.accounts"),
        ("{accounts: ['222222222222'], regions: []}", True, "consumers_from.regions"),
        (
            "{accounts: ['222222222222'], regions: [eu-central-1, eu-central-1]}",
            True,
            "consumers_from.regions",
        ),
        (f"{{organization_unit: {OU}, regions: [eu-central-1]}}", False, "(top level)"),
        (
            "{accounts: ['222222222222'], regions: [eu-central-1], "
            "template_consumer: {vpc: {id: vpc-0123456789abcdef0, subnet_ids: [subnet-01234567]}}}",
            True,
            "consumers_from.template_consumer.vpc",
        ),
        ("{accounts: ['222222222222'], regions: [mars-1]}", True, "consumers_from.regions"),
    ],
)
def test_bad_fleet_keys_are_spec_errors(fleet, approval, field):
    with pytest.raises(SpecError) as exc:
        fleet_spec(fleet, approval)
    assert exc.value.where.endswith(field), exc.value.where


def test_auto_approval_needs_acceptance_and_notifications():
    text = demo_spec_text().replace(
        "auto_accept: true",
        "auto_accept: true\n    auto_approval: {registry: true}\n    notifications: false",
    )
    with pytest.raises(SpecError, match="notifications"):
        parse_spec(text)


def test_create_flow_creates_stack_set_then_instances_and_waits(ou_spec, cfn):
    plan = plan_fleet(ou_spec, minimal_render)[0]
    slept = []
    runner = StackSetRunner(cfn, sleep=slept.append, clock=lambda: 0.0, poll=7.0)
    common = {"StackSetName": "privlink-hello-fleet", "CallAs": "SELF"}
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stack_set",
            "StackSetNotFoundException",
            "StackSet not found",
            404,
            expected_params=common,
        )
        stub.add_response(
            "create_stack_set",
            {"StackSetId": "privlink-hello-fleet:1234"},
            {
                **common,
                "TemplateBody": ANY,
                "Parameters": [{"ParameterKey": "ServiceName", "ParameterValue": "svc"}],
                "Tags": [
                    {"Key": "privlink:link", "Value": "hello"},
                    {"Key": "privlink:part", "Value": "consumer"},
                ],
                "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
                "PermissionModel": "SERVICE_MANAGED",
                "Description": ANY,
            },
        )
        stub.add_response(
            "create_stack_instances",
            {"OperationId": "op-0"},
            {
                **common,
                "DeploymentTargets": {"OrganizationalUnitIds": [OU]},
                "Regions": ["eu-central-1"],
                "OperationPreferences": {
                    "RegionConcurrencyType": "PARALLEL",
                    "MaxConcurrentPercentage": 25,
                    "FailureTolerancePercentage": 10,
                },
                "OperationId": ANY,
            },
        )
        for status in ("QUEUED", "RUNNING", "SUCCEEDED"):
            stub.add_response(
                "describe_stack_set_operation",
                {"StackSetOperation": {"OperationId": "op-0", "Action": "CREATE", "Status": status}},
                {**common, "OperationId": "op-0"},
            )
        assert runner.deploy(plan, [{"ParameterKey": "ServiceName", "ParameterValue": "svc"}]) == ["op-0"]
        stub.assert_no_pending_responses()
    assert slept == [7.0, 7.0]


def test_update_flow_adds_new_accounts_and_removes_gone_ones(accounts_spec, cfn):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    existing = [Instance("222222222222", "eu-central-1"), Instance("444444444444", "eu-central-1")]
    calls = deploy_calls(plan, [], exists=True, instances=existing, token=tokens())
    assert [(c.method, targets_of(c), c.kwargs.get("Regions")) for c in calls] == [
        ("update_stack_set", None, None),
        ("create_stack_instances", {"Accounts": ["333333333333"]}, ["eu-central-1"]),
        ("delete_stack_instances", {"Accounts": ["444444444444"]}, ["eu-central-1"]),
    ]
    assert all(c.wait for c in calls)
    assert json.loads(calls[0].kwargs["TemplateBody"]) == plan.template


def test_update_flow_with_new_and_removed_regions(accounts_spec):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    existing = [Instance(a, "eu-north-1") for a in plan.accounts]
    calls = deploy_calls(plan, [], exists=True, instances=existing, token=tokens())
    assert [(c.method, targets_of(c), c.kwargs.get("Regions")) for c in calls[1:]] == [
        ("create_stack_instances", {"Accounts": ["222222222222", "333333333333"]}, ["eu-central-1"]),
        ("delete_stack_instances", {"Accounts": ["222222222222", "333333333333"]}, ["eu-north-1"]),
    ]


def test_ou_change_creates_new_and_deletes_old(ou_spec):
    plan = plan_fleet(ou_spec, minimal_render)[0]
    existing = [Instance("222222222222", "eu-central-1", "ou-zz99-oldoldold")]
    calls = deploy_calls(plan, [], exists=True, instances=existing, token=tokens())
    assert [(c.method, targets_of(c), c.kwargs.get("Regions")) for c in calls[1:]] == [
        ("create_stack_instances", {"OrganizationalUnitIds": [OU]}, ["eu-central-1"]),
        ("delete_stack_instances", {"OrganizationalUnitIds": ["ou-zz99-oldoldold"]}, ["eu-central-1"]),
    ]


def test_unchanged_fleet_only_updates_the_stack_set(accounts_spec):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    existing = [Instance(a, r) for a in plan.accounts for r in plan.regions]
    assert [c.method for c in deploy_calls(plan, [], True, existing, tokens())] == ["update_stack_set"]


def test_failed_operation_is_deploy_failed(accounts_spec, cfn):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    runner = StackSetRunner(cfn, sleep=lambda s: None, clock=lambda: 0.0)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_set_operation",
            {
                "StackSetOperation": {
                    "OperationId": "op-1",
                    "Action": "CREATE",
                    "Status": "FAILED",
                    "StatusReason": "Account 333333333333 should have "
                    "'AWSCloudFormationStackSetExecutionRole' "
                    "role with trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole'.",
                }
            },
            {"StackSetName": plan.name, "CallAs": "SELF", "OperationId": "op-1"},
        )
        with pytest.raises(DeployFailed, match="AWSCloudFormationStackSetExecutionRole"):
            runner.wait(plan, "op-1")


def test_wait_times_out_with_injected_clock(accounts_spec, cfn):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    runner = StackSetRunner(cfn, sleep=sleep, clock=lambda: now[0], poll=10, timeout=25)
    with Stubber(cfn) as stub:
        for _ in range(4):
            stub.add_response(
                "describe_stack_set_operation",
                {"StackSetOperation": {"OperationId": "op-1", "Status": "RUNNING"}},
                {"StackSetName": plan.name, "CallAs": "SELF", "OperationId": "op-1"},
            )
        with pytest.raises(DeployFailed, match="still RUNNING"):
            runner.wait(plan, "op-1")
    assert now[0] == 30


def test_delete_flow_removes_instances_then_stack_set(ou_spec, cfn):
    plan = plan_fleet(ou_spec, minimal_render)[0]
    common = {"StackSetName": plan.name, "CallAs": "SELF"}
    runner = StackSetRunner(cfn, sleep=lambda s: None, clock=lambda: 0.0)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_set", {"StackSet": {"StackSetName": plan.name, "Status": "ACTIVE"}}, common
        )
        stub.add_response(
            "list_stack_instances",
            {
                "Summaries": [
                    {
                        "StackSetId": "s",
                        "Region": "eu-central-1",
                        "Account": "222222222222",
                        "OrganizationalUnitId": OU,
                    }
                ],
                "NextToken": "n",
            },
            common,
        )
        stub.add_response(
            "list_stack_instances",
            {
                "Summaries": [
                    {
                        "StackSetId": "s",
                        "Region": "eu-central-1",
                        "Account": "333333333333",
                        "OrganizationalUnitId": OU,
                    }
                ]
            },
            {**common, "NextToken": "n"},
        )
        stub.add_response(
            "delete_stack_instances",
            {"OperationId": "op-d"},
            {
                **common,
                "DeploymentTargets": {"OrganizationalUnitIds": [OU]},
                "Regions": ["eu-central-1"],
                "RetainStacks": False,
                "OperationPreferences": plan.operation_preferences,
                "OperationId": ANY,
            },
        )
        stub.add_response(
            "describe_stack_set_operation",
            {"StackSetOperation": {"OperationId": "op-d", "Status": "SUCCEEDED"}},
            {**common, "OperationId": "op-d"},
        )
        stub.add_response("delete_stack_set", {}, common)
        assert runner.delete(plan) == ["op-d"]
        stub.assert_no_pending_responses()


def test_delete_of_missing_stack_set_is_a_no_op(accounts_spec, cfn):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stack_set", "StackSetNotFoundException", "not found", 404)
        assert StackSetRunner(cfn).delete(plan) == []


def test_delete_calls_for_account_instances(accounts_spec):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    calls = delete_calls(plan, [Instance("222222222222", "eu-central-1")], token=tokens())
    assert calls[0].kwargs["Accounts"] == ["222222222222"] and "DeploymentTargets" not in calls[0].kwargs
    assert calls[-1].method == "delete_stack_set"


def test_missing_producer_output_is_deploy_failed(accounts_spec):
    plan = plan_fleet(accounts_spec, minimal_render)[0]
    with pytest.raises(DeployFailed, match="needs output ServiceName") as exc:
        resolve_parameters(plan, {})
    assert "deploy the producer" in exc.value.hint


def test_bench_function_runs_and_reports_stages():
    timings = bench_render_plan(5)
    assert {"validate", "plan_fleet", "total"} <= set(timings)
    assert all(v >= 0 for v in timings.values())


@pytest.mark.parametrize("which", ["ou", "accounts"])
def test_every_planned_call_is_valid_for_the_cloudformation_api(which, ou_spec, accounts_spec, cfn):
    """botocore validates each call's parameters against the CloudFormation model before the stub."""
    plan = plan_fleet(ou_spec if which == "ou" else accounts_spec, minimal_render)[0]
    existing = [Instance("444444444444", "eu-north-1", "ou-zz99-oldoldold" if which == "ou" else "")]
    calls = deploy_calls(
        plan, [{"ParameterKey": "ServiceName", "ParameterValue": "svc"}], False, [], tokens()
    )
    calls += deploy_calls(plan, [], True, existing, tokens()) + delete_calls(plan, existing, tokens())
    runner = StackSetRunner(cfn, sleep=lambda s: None, clock=lambda: 0.0)
    with Stubber(cfn) as stub:
        for call in calls:
            stub.add_response(call.method, {"OperationId": "op"} if call.wait else {})
            if call.wait:
                stub.add_response(
                    "describe_stack_set_operation", {"StackSetOperation": {"Status": "SUCCEEDED"}}
                )
        runner.run(plan, calls)
        stub.assert_no_pending_responses()
    methods = [c.method for c in calls]
    assert methods[0] == "create_stack_set" and methods[-1] == "delete_stack_set"


def test_expand_fleet_gives_one_consumer_per_account_and_region():
    from privlink.fleet import expand_fleet

    spec = fleet_spec("{accounts: ['222222222222', '333333333333'], regions: [eu-central-1, eu-west-2]}")
    consumers = expand_fleet(spec)
    assert [(c.name, c.account, c.region) for c in consumers] == [
        ("fleet-0", "222222222222", "eu-central-1"),
        ("fleet-1", "222222222222", "eu-west-2"),
        ("fleet-2", "333333333333", "eu-central-1"),
        ("fleet-3", "333333333333", "eu-west-2"),
    ]
    assert all(c.vpc.cidr == "10.10.0.0/16" for c in consumers)


def test_expand_fleet_refuses_an_ou(ou_spec):
    from privlink.errors import BadInput
    from privlink.fleet import expand_fleet

    with pytest.raises(BadInput, match="OU"):
        expand_fleet(ou_spec)


def test_deploy_and_delete_fleet_use_the_factory_per_plan(accounts_spec, cfn):
    from privlink.fleet import delete_fleet, deploy_fleet

    asked = []

    def factory(service, account, region):
        asked.append((service, account, region))
        return cfn

    outputs = {"privlink-hello-producer": {"ServiceName": "svc"}}
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stack_set", "StackSetNotFoundException", "not found", 404)
        stub.add_response("create_stack_set", {"StackSetId": "x"})
        stub.add_response("create_stack_instances", {"OperationId": "op-1"})
        stub.add_response("describe_stack_set_operation", {"StackSetOperation": {"Status": "SUCCEEDED"}})
        lines = []
        assert deploy_fleet(
            accounts_spec, outputs, factory, lines.append, minimal_render, sleep=lambda s: None
        ) == ["op-1"]
        stub.add_client_error("describe_stack_set", "StackSetNotFoundException", "not found", 404)
        assert delete_fleet(accounts_spec, factory, render=minimal_render) == []
        stub.assert_no_pending_responses()
    assert asked == [("cloudformation", "prod", "eu-central-1")] * 2
    assert lines == ["privlink-hello-fleet: create_stack_set", "privlink-hello-fleet: create_stack_instances"]


def test_step_bound_parameters_cannot_feed_a_stack_set(accounts_spec):
    from privlink.templates.stacks import FromStep

    def render(spec, consumer):
        template, params = minimal_render(spec, consumer)
        return template, {**params, "Cert": FromStep("import-certificates:fleet", "server_certificate_arn")}

    plan = plan_fleet(accounts_spec, render)[0]
    with pytest.raises(DeployFailed, match="FromStep"):
        resolve_parameters(plan, OUTPUTS)
