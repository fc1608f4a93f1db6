"""The engine deploys the real rendered templates into the simulated world, updates and deletes them."""

from __future__ import annotations

import re

import pytest
import yaml

from privlink.errors import BadInput, DeployFailed
from privlink.spec.demo import demo_spec_text
from privlink.spec.load import parse_spec
from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.engine import Engine, ssm_parameter
from privlink.targets.local.engine.handlers import HANDLERS
from privlink.targets.local.world import AVAILABLE, PENDING_ACCEPTANCE, World
from privlink.templates.render import render_stacks
from privlink.templates.stacks import (
    PLAN_AZ_IDS,
    PLAN_IMAGE,
    FromAccount,
    FromOutput,
    FromPlan,
    FromStep,
    Literal,
    RenderedStack,
)


def demo_data(cross_region: bool = False) -> dict:
    return yaml.safe_load(demo_spec_text(cross_region=cross_region))


def two_consumers() -> dict:
    data = demo_data()
    data["consumers"].append(
        {
            "name": "qa",
            "account": "qa",
            "region": "eu-central-1",
            "vpc": {"cidr": "10.30.0.0/16", "azs": 2},
        }
    )
    data["accounts"]["qa"] = {"profile": "qa"}
    return data


def auto_approval() -> dict:
    data = demo_data()
    data["producer"]["endpoint_service"]["auto_approval"] = {"registry": True}
    return data


def local_address_targets() -> dict:
    data = demo_data()
    data["producer"]["service"].update(app="none", targets=[{"address": "127.0.0.1:9000"}])
    return data


def with_test_instance() -> dict:
    data = demo_data()
    data["consumers"][0]["test_instance"] = {"enabled": True}
    return data


SPECS = {
    "demo": demo_data,
    "test-instance": with_test_instance,
    "address-targets": local_address_targets,
    "cross-region": lambda: demo_data(cross_region=True),
    "two-consumers": two_consumers,
    "auto-approval": auto_approval,
}


def stacks_of(data: dict) -> list[RenderedStack]:
    return render_stacks(parse_spec(yaml.safe_dump(data)))


class Deployer:
    """Binds parameters the way a target does and deploys stacks in render order (which has every
    stack after the ones it depends on); `FromPlan` values as the plan decides them: the producer's
    account's AZ IDs, the same for same-region consumer networks, the AMI of the SSM parameter."""

    def __init__(self) -> None:
        self.world = World(id_seed="engine-tests")
        self.world.pending_seconds = 0
        self.engine = Engine(self.world)
        self.outputs: dict[str, dict[str, str]] = {}
        self.certs: dict[tuple[str, str], str] = {}
        self.account_override: dict[str, str] = {}
        self.producer_zones: tuple[str, list[str]] | None = None  # (region, AZ IDs)

    def plan_value(self, stack: RenderedStack, binding: FromPlan) -> str:
        if binding.key.startswith(PLAN_IMAGE):
            return ssm_parameter(stack.region, binding.key[len(PLAN_IMAGE) :])
        assert binding.key == PLAN_AZ_IDS
        if stack.name.part == "producer":
            self.producer_zones = (
                stack.region,
                list(self.world.az_mapping(stack.account, stack.region).values()),
            )
        if self.producer_zones is not None and self.producer_zones[0] == stack.region:
            return ",".join(self.producer_zones[1])
        return ",".join(self.world.az_mapping(stack.account, stack.region).values())

    def bind(self, stack: RenderedStack) -> dict[str, str]:
        values = {}
        for name, binding in stack.parameters.items():
            if isinstance(binding, FromOutput):
                values[name] = self.outputs[binding.stack][binding.output]
            elif isinstance(binding, FromAccount):
                label = self.account_override.get(binding.label, binding.label)
                values[name] = self.world.account(label).id
            elif isinstance(binding, FromStep):
                key = (binding.step, binding.key)
                if key not in self.certs:
                    self.certs[key] = self.world.import_certificate(
                        stack.account, stack.region, f"{binding.key.replace('_', '-')}.example"
                    )
                values[name] = self.certs[key]
            elif isinstance(binding, Literal):
                values[name] = binding.value
            elif isinstance(binding, FromPlan):
                values[name] = self.plan_value(stack, binding)
            else:
                raise AssertionError(f"unexpected binding {binding!r}")
        return values

    def deploy(self, stack: RenderedStack) -> dict[str, str]:
        self.outputs[stack.stack_name] = self.engine.deploy(stack, self.bind(stack))
        return self.outputs[stack.stack_name]

    def deploy_all(self, stacks: list[RenderedStack]) -> None:
        for stack in stacks:
            self.deploy(stack)

    def delete_all(self, stacks: list[RenderedStack]) -> None:
        for stack in reversed(stacks):
            self.engine.delete(stack.stack_name, stack.account, stack.region)


def producer_of(stacks):
    return next(s for s in stacks if s.name.name.endswith("-producer"))


def consumers_of(stacks):
    return [s for s in stacks if "-consumer-" in s.stack_name]


def test_every_rendered_resource_type_has_a_handler():
    for make in SPECS.values():
        for stack in stacks_of(make()):
            for lid, body in stack.template["Resources"].items():
                assert body["Type"] in HANDLERS, (stack.stack_name, lid, body["Type"])


@pytest.mark.parametrize("variant", sorted(SPECS))
def test_full_lifecycle_of_rendered_stacks(variant):
    stacks = stacks_of(SPECS[variant]())
    d = Deployer()
    d.deploy_all(stacks)
    world = d.world

    producer = producer_of(stacks)
    out = d.outputs[producer.stack_name]
    assert idfmt.RE_SERVICE_NAME.match(out["ServiceName"]), out["ServiceName"]
    assert out["ServiceName"] == f"com.amazonaws.vpce.{producer.region}.{out['ServiceId']}"
    service = world.endpoint_services[out["ServiceId"]]
    assert service.acceptance_required
    producer_az_ids = out["AvailabilityZoneIds"].split(",")
    assert producer_az_ids == service.az_ids

    for consumer in consumers_of(stacks):
        cout = d.outputs[consumer.stack_name]
        assert re.fullmatch(r"vpce-[0-9a-f]{17}", cout["EndpointId"])
        entries = cout["EndpointDnsEntries"].split(",")
        assert len(entries) == 1 + len(cout["SubnetIds"].split(","))
        for entry in entries:
            zone, _, name = entry.partition(":")
            assert re.fullmatch(r"Z[0-9A-Z]+", zone)
            assert idfmt.RE_ENDPOINT_DNS.match(name), name
        network = d.outputs[consumer.stack_name.replace("-consumer-", "-network-")]
        assert cout["SubnetIds"] == network["SubnetIds"]  # the network stack's subnets, re-exported
        if consumer.region == producer.region:
            assert network["AvailabilityZoneIds"] == out["AvailabilityZoneIds"]
        endpoint = world.endpoints[cout["EndpointId"]]
        assert endpoint.state == PENDING_ACCEPTANCE
        assert world.accept(service.id, [endpoint.id]) == []
        world.settle()
        assert endpoint.state == AVAILABLE

    # The producer's notifications reached its topic (the policy lets vpce.amazonaws.com publish).
    events = [e for e in world.notification_events if e.service_id == service.id]
    assert {e.event for e in events} >= {"Connect", "Accept"}
    assert all(e.delivered for e in events)

    record = world.stacks[World.stack_key(producer.account, producer.region, producer.stack_name)]
    assert record.status == "CREATE_COMPLETE"
    assert set(record.resources) == set(producer.template["Resources"])
    assert record.events[-1].status == "CREATE_COMPLETE"

    # The producer cannot go while endpoints are attached: the delete names the service.
    with pytest.raises(DeployFailed, match=r"VPCEndpointService.*(active|endpoint)"):
        d.engine.delete(producer.stack_name, producer.account, producer.region)
    record = world.stacks[World.stack_key(producer.account, producer.region, producer.stack_name)]
    assert record.status == "DELETE_FAILED"
    assert "EndpointService" in record.resources
    # Deploying again re-creates what the failed delete removed, with the same service.
    assert d.deploy(producer)["ServiceName"] == out["ServiceName"]
    assert record.status == "UPDATE_COMPLETE"
    assert set(record.resources) == set(producer.template["Resources"])

    d.delete_all(stacks)
    assert world.resources == {}
    assert world.stacks == {}
    assert world.endpoint_services == {}
    assert world.endpoints == {}


def test_redeploy_unchanged_is_a_no_op_and_update_changes_in_place():
    data = demo_data()
    stacks = stacks_of(data)
    d = Deployer()
    d.deploy_all(stacks)
    producer = producer_of(stacks)
    key = World.stack_key(producer.account, producer.region, producer.stack_name)
    record = d.world.stacks[key]
    before_events, before_resources = len(record.events), dict(d.world.resources)
    outputs = dict(d.outputs[producer.stack_name])

    assert d.deploy(producer) == outputs
    assert len(d.world.stacks[key].events) == before_events
    assert d.world.resources.keys() == before_resources.keys()

    data["producer"]["service"]["cross_zone"] = False
    updated = producer_of(stacks_of(data))
    assert updated.template != producer.template
    assert d.deploy(updated) == outputs  # same physical resources: updated in place
    record = d.world.stacks[key]
    assert record.status == "UPDATE_COMPLETE"
    assert [e.status for e in record.events[before_events:]].count("UPDATE_COMPLETE") >= 2
    lb = next(r for r in d.world.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    assert lb.data["attributes"]["load_balancing.cross_zone.enabled"] == "false"


def test_unlisted_principal_fails_consumer_and_leaves_nothing_behind():
    stacks = stacks_of(demo_data())
    d = Deployer()
    d.account_override["dev"] = "stranger"  # the producer allows another account, not dev
    producer = producer_of(stacks)
    d.deploy(producer)
    d.deploy(next(s for s in stacks if "-network-" in s.stack_name))
    before = set(d.world.resources)
    consumer = consumers_of(stacks)[0]
    with pytest.raises(DeployFailed) as info:
        d.deploy(consumer)
    message = str(info.value)
    assert "(AWS::EC2::VPCEndpoint): InvalidServiceName:" in message
    assert d.outputs[producer.stack_name]["ServiceName"] in message
    assert set(d.world.resources) == before
    assert d.world.find_stack(consumer.stack_name) is None
    assert d.world.endpoints == {}
    assert not [r for r in d.world.resources.values() if r.stack == consumer.stack_name]


def test_removed_resources_are_deleted_on_update():
    stacks = stacks_of(demo_data())
    d = Deployer()
    d.deploy_all(stacks)
    vpn = next(s for s in stacks if "-vpn-" in s.stack_name)
    template = dict(vpn.template)
    resources = dict(template["Resources"])
    rule = "AWS::EC2::ClientVpnAuthorizationRule"
    dropped = [lid for lid, body in resources.items() if body["Type"] == rule]
    assert dropped
    for lid in dropped:
        del resources[lid]
    template["Resources"] = resources
    smaller = RenderedStack(vpn.name, vpn.account, vpn.region, template, vpn.parameters, vpn.depends_on)
    d.deploy(smaller)
    record = d.world.stacks[World.stack_key(vpn.account, vpn.region, vpn.stack_name)]
    assert not set(dropped) & set(record.resources)
    assert d.world.of_type("AWS::EC2::ClientVpnAuthorizationRule") == []
    assert record.status == "UPDATE_COMPLETE"


def _bare_stack(resources: dict, outputs: dict | None = None) -> RenderedStack:
    base = producer_of(stacks_of(demo_data()))
    template = {"Resources": resources, "Outputs": outputs or {}}
    return RenderedStack(base.name, "prod", "eu-central-1", template)


def test_unsupported_resource_type_fails_before_anything_is_created():
    stack = _bare_stack(
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }
    )
    world = World(id_seed="x")
    with pytest.raises(DeployFailed, match=r"Bucket: resource type AWS::S3::Bucket is not supported"):
        Engine(world).deploy(stack, {})
    assert world.resources == {} and world.stacks == {}


def test_a_refused_parameter_is_one_line_naming_the_stack_with_a_fix_and_creates_nothing():
    stack = _bare_stack({"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}}})
    stack.template["Parameters"] = {"Cidr": {"Type": "String", "AllowedPattern": r"^10\..*"}}
    world = World(id_seed="x")
    with pytest.raises(BadInput) as info:
        Engine(world).deploy(stack, {"Cidr": "192.168.0.0/16"})
    assert info.value.where == f"{stack.stack_name}: parameter Cidr"
    assert "pattern" in info.value.what and "privlink render" in info.value.hint
    assert world.resources == {} and world.stacks == {}


def test_unsupported_function_fails_before_anything_is_created():
    stack = _bare_stack(
        {
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Properties": {"CidrBlock": {"Fn::ImportValue": "shared-cidr"}},
            }
        }
    )
    world = World(id_seed="x")
    with pytest.raises(DeployFailed, match=r"Vpc \(AWS::EC2::VPC\): intrinsic function Fn::ImportValue"):
        Engine(world).deploy(stack, {})
    assert world.resources == {}


def test_handler_error_rolls_back_in_reverse_and_names_the_resource():
    stack = _bare_stack(
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.0.0/24"},
            },
        }
    )
    world = World(id_seed="x")
    with pytest.raises(DeployFailed, match=r"Subnet \(AWS::EC2::Subnet\): InvalidSubnet"):
        Engine(world).deploy(stack, {})
    assert world.resources == {} and world.stacks == {}


def test_replacement_creates_new_then_deletes_old():
    def stack(cidr):
        return _bare_stack(
            {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}}},
            {"VpcId": {"Value": {"Ref": "Vpc"}}, "Cidr": {"Value": {"Fn::GetAtt": ["Vpc", "CidrBlock"]}}},
        )

    world = World(id_seed="x")
    engine = Engine(world)
    first = engine.deploy(stack("10.0.0.0/16"), {})
    second = engine.deploy(stack("10.1.0.0/16"), {})
    assert first["VpcId"] != second["VpcId"]
    assert second["Cidr"] == "10.1.0.0/16"
    assert [r.id for r in world.of_type("AWS::EC2::VPC")] == [second["VpcId"]]


def test_deleting_a_missing_stack_is_a_no_op():
    world = World(id_seed="x")
    Engine(world).delete("privlink-nothing-producer", "prod", "eu-central-1")
    assert world.stacks == {}


def test_ssm_ami_parameters_are_per_region_and_architecture():
    x86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    arm = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    assert re.fullmatch(r"ami-[0-9a-f]{17}", ssm_parameter("eu-central-1", x86))
    assert ssm_parameter("eu-central-1", x86) != ssm_parameter("us-east-1", x86)
    assert ssm_parameter("eu-central-1", x86) != ssm_parameter("eu-central-1", arm)
    with pytest.raises(KeyError):
        ssm_parameter("eu-central-1", "/aws/service/unknown")


def with_approval_resources(data: dict) -> list[RenderedStack]:
    """The rendered stacks, the producer's extended by `approval_resources` (render does not add them yet)."""
    from troposphere import Ref, Template

    from privlink.approval.template import approval_resources

    spec = parse_spec(yaml.safe_dump(data))
    stacks = render_stacks(spec)
    producer = producer_of(stacks)
    resources = producer.template["Resources"]
    service_id = next(lid for lid, b in resources.items() if b["Type"] == "AWS::EC2::VPCEndpointService")
    topic_id = next(lid for lid, b in resources.items() if b["Type"] == "AWS::SNS::Topic")
    extra = Template()
    approval_resources(extra, spec, Ref(service_id), Ref(topic_id))
    extra_dict = extra.to_dict()
    template = dict(producer.template)
    template["Resources"] = {**resources, **extra_dict["Resources"]}
    template["Outputs"] = {**producer.template.get("Outputs", {}), **extra_dict.get("Outputs", {})}
    merged = RenderedStack(producer.name, producer.account, producer.region, template, producer.parameters)
    return [merged if s is producer else s for s in stacks]


def test_auto_approval_resources_deploy_and_delete():
    stacks = with_approval_resources(auto_approval())
    d = Deployer()
    d.deploy_all(stacks)
    world = d.world
    producer = producer_of(stacks)
    out = d.outputs[producer.stack_name]
    (table,) = world.of_type("AWS::DynamoDB::Table")
    (function,) = world.of_type("AWS::Lambda::Function")
    (role,) = world.of_type("AWS::IAM::Role")
    (permission,) = world.of_type("AWS::Lambda::Permission")
    (subscription,) = world.of_type("AWS::SNS::Subscription")
    account_id = world.account("prod").id
    assert table.attributes["Arn"] == f"arn:aws:dynamodb:eu-central-1:{account_id}:table/{table.id}"
    assert table.id in out.values()
    assert re.fullmatch(rf"arn:aws:iam::{account_id}:role/[\w+=,.@-]+", role.attributes["Arn"])
    assert function.properties["Role"] == role.attributes["Arn"]
    assert function.attributes["Arn"] == f"arn:aws:lambda:eu-central-1:{account_id}:function:{function.id}"
    assert function.data["environment"] == {"SERVICE_ID": out["ServiceId"], "REGISTRY_TABLE": table.id}
    assert permission.data["source_arn"] == out["NotificationTopicArn"]
    assert subscription.id.startswith(out["NotificationTopicArn"] + ":")
    d.delete_all(stacks)
    assert world.resources == {}


def test_failed_update_rolls_back_in_place_changes_and_new_resources():
    def stack(retention, extra):
        resources = {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": retention}},
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        }
        resources.update(extra)
        return _bare_stack(resources, {"LogArn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}}})

    world = World(id_seed="x")
    engine = Engine(world)
    first = engine.deploy(stack(30, {}), {})
    assert re.fullmatch(r"arn:aws:logs:eu-central-1:\d{12}:log-group:[^:]+:\*", first["LogArn"])
    bad_subnet = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.0.0/24"},
    }
    good_sg = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {"GroupDescription": "x", "VpcId": {"Ref": "Vpc"}},
    }
    with pytest.raises(DeployFailed, match=r"Subnet \(AWS::EC2::Subnet\)"):
        engine.deploy(stack(60, {"Group": good_sg, "Subnet": bad_subnet}), {})
    (record,) = world.stacks.values()
    assert record.status == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in record.events if e.status.endswith("_FAILED")]
    assert [(e.logical_id, e.status) for e in failed] == [("Subnet", "CREATE_FAILED")]
    assert failed[0].reason.startswith("InvalidSubnet")
    assert set(record.resources) == {"Logs", "Vpc"}
    (logs,) = world.of_type("AWS::Logs::LogGroup")
    assert logs.data["retention_days"] == 30
    # Only the VPC's default security group is left, not the rolled-back "Group".
    assert [g.logical_id for g in world.of_type("AWS::EC2::SecurityGroup")] == ["Vpc"]
    assert world.of_type("AWS::EC2::Subnet") == []


def test_conditions_and_parameters_decide_what_is_created():
    base = producer_of(stacks_of(demo_data()))
    template = {
        "Parameters": {
            "WithVpc": {"Type": "String", "AllowedValues": ["yes", "no"]},
            "Ami": {
                "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
            },
        },
        "Conditions": {"MakeVpc": {"Fn::Equals": [{"Ref": "WithVpc"}, "yes"]}},
        "Resources": {
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Condition": "MakeVpc",
                "Properties": {"CidrBlock": "10.0.0.0/16"},
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        },
        "Outputs": {
            "Ami": {"Value": {"Ref": "Ami"}},
            "VpcId": {"Condition": "MakeVpc", "Value": {"Ref": "Vpc"}},
        },
    }
    stack = RenderedStack(base.name, "prod", "eu-central-1", template)
    world = World(id_seed="x")
    engine = Engine(world)
    outputs = engine.deploy(stack, {"WithVpc": "no"})
    assert set(outputs) == {"Ami"}
    assert outputs["Ami"] == ssm_parameter(
        "eu-central-1", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    assert world.of_type("AWS::EC2::VPC") == []
    outputs = engine.deploy(stack, {"WithVpc": "yes"})
    assert outputs["VpcId"] == world.of_type("AWS::EC2::VPC")[0].id
    engine.deploy(stack, {"WithVpc": "no"})
    assert world.of_type("AWS::EC2::VPC") == []


def test_iam_role_and_instance_profile_refs_and_delete_order():
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    stack = _bare_stack(
        {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
        },
        {
            "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
            "ProfileArn": {"Value": {"Fn::GetAtt": ["Profile", "Arn"]}},
            "RoleId": {"Value": {"Fn::GetAtt": ["Role", "RoleId"]}},
        },
    )
    world = World(id_seed="x")
    engine = Engine(world)
    out = engine.deploy(stack, {})
    account_id = world.account("prod").id
    (role,) = world.of_type("AWS::IAM::Role")
    assert out["RoleArn"] == f"arn:aws:iam::{account_id}:role/{role.id}"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", out["RoleId"])
    assert re.fullmatch(rf"arn:aws:iam::{account_id}:instance-profile/[\w+=,.@-]+", out["ProfileArn"])
    engine.delete(stack.stack_name, "prod", "eu-central-1")
    assert world.resources == {}


def test_world_save_and_load_keeps_stacks_and_redeploy_stays_a_no_op(tmp_path):
    stacks = stacks_of(demo_data())
    d = Deployer()
    d.deploy_all(stacks)
    path = tmp_path / "sandbox.json"
    d.world.save(path)
    loaded = World.load(path)
    assert loaded.stacks.keys() == d.world.stacks.keys()
    producer = producer_of(stacks)
    events = len(loaded.stacks[World.stack_key("prod", producer.region, producer.stack_name)].events)
    outputs = Engine(loaded).deploy(producer, d.bind(producer))
    assert outputs == d.outputs[producer.stack_name]
    assert len(loaded.stacks[World.stack_key("prod", producer.region, producer.stack_name)].events) == events


def test_demo_instances_launch_from_the_launch_template_with_its_user_data_and_settings():
    stacks = stacks_of(demo_data())
    d = Deployer()
    d.deploy_all(stacks)
    producer = producer_of(stacks)
    (template,) = d.world.of_type("AWS::EC2::LaunchTemplate")
    data = producer.template["Resources"]["DemoLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert template.data["tags"]["privlink:link"] == "hello"
    instances = d.world.of_type("AWS::EC2::Instance")
    assert len(instances) == 2
    for instance in instances:
        assert instance.data["user_data"] == data["UserData"]
        assert instance.data["instance_type"] == "t3.micro"
        assert instance.data["image_id"] == ssm_parameter("eu-central-1", data_image_path())
        assert instance.data["metadata_options"]["HttpTokens"] == "required"
        assert instance.data["launch_template"] == template.id
        assert instance.data["tags"]["privlink:app"] == "demo"  # what makes the sandbox run the demo app
    d.delete_all(stacks)
    assert d.world.resources == {}


def data_image_path() -> str:
    from privlink.templates import naming

    return naming.DEMO_IMAGE_SSM_PATH


def _launch_template_stack(data: dict, instance: dict) -> RenderedStack:
    return _bare_stack(
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"},
            },
            "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": data}},
            "Instance": {
                "Type": "AWS::EC2::Instance",
                "Properties": {
                    "LaunchTemplate": {
                        "LaunchTemplateId": {"Ref": "Template"},
                        "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]},
                    },
                    "SubnetId": {"Ref": "Subnet"},
                    **instance,
                },
            },
        },
        {"InstanceId": {"Value": {"Ref": "Instance"}}},
    )


def test_an_instance_takes_what_it_does_not_set_from_its_launch_template():
    world = Engine(World(id_seed="x"))
    out = world.deploy(
        _launch_template_stack(
            {"ImageId": "ami-0123456789abcdef0", "UserData": "ZWNobw==", "InstanceType": "t3.micro"},
            {"InstanceType": "t3.nano"},
        ),
        {},
    )
    (instance,) = [r for r in world.world.of_type("AWS::EC2::Instance") if r.id == out["InstanceId"]]
    assert instance.data["user_data"] == "ZWNobw=="
    assert instance.data["image_id"] == "ami-0123456789abcdef0"
    assert instance.data["instance_type"] == "t3.nano"  # the instance's own setting wins


def test_an_instance_without_an_image_anywhere_fails_as_ec2_does():
    world = World(id_seed="x")
    with pytest.raises(DeployFailed, match=r"Instance \(AWS::EC2::Instance\): MissingParameter"):
        Engine(world).deploy(_launch_template_stack({"UserData": "ZWNobw=="}, {}), {})
    assert world.resources == {}


def test_changing_the_launch_template_data_makes_a_new_version_and_replaces_its_instances():
    engine = Engine(World(id_seed="x"))
    first = engine.deploy(
        _launch_template_stack({"ImageId": "ami-0123456789abcdef0", "UserData": "b25l"}, {}), {}
    )
    second = engine.deploy(
        _launch_template_stack({"ImageId": "ami-0123456789abcdef0", "UserData": "dHdv"}, {}), {}
    )
    (template,) = engine.world.of_type("AWS::EC2::LaunchTemplate")
    assert template.attributes["LatestVersionNumber"] == "2"
    (instance,) = engine.world.of_type("AWS::EC2::Instance")
    assert instance.id == second["InstanceId"] != first["InstanceId"]
    assert instance.data["user_data"] == "dHdv"


def test_an_unknown_launch_template_version_fails():
    stack = _launch_template_stack({"ImageId": "ami-0123456789abcdef0"}, {})
    stack.template["Resources"]["Instance"]["Properties"]["LaunchTemplate"]["Version"] = "7"
    with pytest.raises(DeployFailed, match="VersionNotFound"):
        Engine(World(id_seed="x")).deploy(stack, {})


def _topics(n: int) -> dict:
    return {f"Topic{i}": {"Type": "AWS::SNS::Topic", "Properties": {}} for i in range(n)}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"Resources": _topics(501)},
            "ValidationError: Template format error: Number of resources, 501, is greater than maximum allowed, 500",
        ),
        (
            {
                "Resources": _topics(1),
                "Parameters": {f"P{i}": {"Type": "String", "Default": "x"} for i in range(201)},
            },
            "ValidationError: Template format error: Parameter count 201 is greater than max allowed 200",
        ),
        (
            {"Resources": _topics(1), "Outputs": {f"O{i}": {"Value": "x"} for i in range(201)}},
            "ValidationError: Template format error: Outputs count 201 is greater than max allowed 200",
        ),
        (
            {"Resources": _topics(1), "Description": "x" * 51_200},
            "ValidationError: 1 validation error detected: Value '...' at 'templateBody' failed to satisfy "
            "constraint: Member must have length less than or equal to 51200",
        ),
    ],
    ids=["resources", "parameters", "outputs", "body"],
)
def test_the_sandbox_refuses_what_cloudformation_refuses_before_creating_anything(template, message):
    stack = _bare_stack({})
    stack.template.clear()
    stack.template.update(template)
    world = World(id_seed="x")
    with pytest.raises(DeployFailed) as info:
        Engine(world).deploy(stack, {})
    assert info.value.what == message
    assert world.resources == {} and world.stacks == {}


def test_the_sandbox_takes_templates_at_the_limits():
    stack = _bare_stack(_topics(500), {f"O{i}": {"Value": "x"} for i in range(200)})
    Engine(World(id_seed="x")).deploy(stack, {})
