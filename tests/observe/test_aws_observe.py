"""`observe_aws` turns AWS describe responses into the Observation the doctor needs.

Each case deploys the healthy link (`aws_world`), breaks one thing the way AWS would show it, and
asserts that `run_checks(observe_aws(...))` reports exactly that finding among errors and warnings.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_world import ACCOUNT_IDS, AwsWorld, FailedStack, deployed, spec_text  # noqa: F401

from privlink.doctor import run_checks
from privlink.doctor.findings import Finding
from privlink.observe.aws import observe_aws
from privlink.spec import parse_spec


@pytest.fixture
def world(deployed) -> AwsWorld:  # noqa: F811
    return deployed(parse_spec(spec_text()))


def findings(world: AwsWorld) -> list[Finding]:
    return run_checks(observe_aws(world.spec, world.clients))


def problems(found: list[Finding]) -> dict[str, list[Finding]]:
    by_id: dict[str, list[Finding]] = {}
    for f in found:
        if f.severity in ("error", "warning"):
            by_id.setdefault(f.id, []).append(f)
    return by_id


# --- healthy -----------------------------------------------------------------------------------


def test_healthy_link_observed_across_accounts_and_regions(world):
    obs = observe_aws(world.spec, world.clients)

    assert obs.errors == []
    assert problems(run_checks(obs)) == {}
    producer = obs.producer
    assert producer.deployed and producer.region == "eu-central-1"
    assert producer.service is not None
    assert producer.service.az_ids == ["euc1-az1", "euc1-az2"]
    assert producer.service.private_dns_configuration.state == "verified"
    # Three connections come two per page: all of them are read.
    assert sorted((c.owner, c.region) for c in producer.connections) == [
        ("222222222222", "eu-central-1"),
        ("333333333333", "eu-central-1"),
        ("333333333333", "eu-west-2"),
    ]
    assert sorted(producer.service.allowed_principals) == [
        "arn:aws:iam::222222222222:root",
        "arn:aws:iam::333333333333:root",
    ]
    lb = producer.load_balancer
    assert lb.az_ids == ["euc1-az1", "euc1-az2"] and lb.cross_zone is True
    assert [(t.az, t.az_id, t.state) for t in lb.target_groups[0].targets] == [
        ("eu-central-1a", "euc1-az1", "healthy"),
        ("eu-central-1b", "euc1-az2", "healthy"),
    ]
    dev, ops, west = obs.consumers
    assert (dev.account_id, ops.account_id, west.account_id) == (
        "222222222222",
        "333333333333",
        "333333333333",
    )
    # Same AZ IDs as the producer under other names: dev's euc1-az1 is eu-central-1c.
    assert {(s.az_name, s.az_id) for s in dev.subnets} == {
        ("eu-central-1c", "euc1-az1"),
        ("eu-central-1a", "euc1-az2"),
    }
    assert {(s.az_name, s.az_id) for s in ops.subnets} == {
        ("eu-central-1b", "euc1-az1"),
        ("eu-central-1c", "euc1-az2"),
    }
    assert west.region == "eu-west-2" and west.endpoint.service_region == "eu-central-1"
    assert dev.endpoint.regional_dns_name == world.endpoints["dev"].regional_name
    assert set(dev.endpoint.addresses.values()) == {"10.10.1.37", "10.10.2.37"}
    assert dev.hosted_zones[0].name == "internal.company"
    assert dev.vpn.authorization_rules[0].destination_cidr == "10.10.0.0/16"
    assert [a.state for a in dev.vpn.associations] == ["associated", "associated"]
    assert dev.enable_dns_support is True and dev.enable_dns_hostnames is True
    assert ops.endpoint.private_dns_enabled is True


def test_idle_timeout_info_reports_the_listener_value(world):
    info = [f for f in findings(world) if f.id == "nlb-idle-timeout"]
    # AWS lists tcp.idle_timeout.seconds = 350 on every listener, set or not: the default reads as such.
    assert len(info) == 1 and info[0].severity == "info"
    assert "350 s (the NLB default)" in info[0].evidence

    world.producer_client("elbv2").modify_listener_attributes(
        ListenerArn=world.producer["listener_arn"],
        Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "120"}],
    )
    found = findings(world)
    info = [f for f in found if f.id == "nlb-idle-timeout"]
    assert len(info) == 1 and "120 s (set on the listener)" in info[0].evidence
    # west is cross-region, and cross-region PrivateLink does not work with a custom idle timeout.
    assert set(problems(found)) == {"cross-region-not-supported"}


# --- one fault at a time -----------------------------------------------------------------------


def pending(world: AwsWorld) -> str:
    world.set_connection("dev", "pendingAcceptance")
    return world.endpoints["dev"].id


def rejected(world: AwsWorld) -> str:
    world.set_connection("ops", "rejected")
    return world.endpoints["ops"].id


def principal_removed(world: AwsWorld) -> str:
    """The dev account's root was taken off the allowed principals (its endpoint still exists)."""
    world.service.principals.remove("arn:aws:iam::222222222222:root")
    return "arn:aws:iam::222222222222:root"


def sg_rule_revoked(world: AwsWorld) -> str:
    """Someone removed the endpoint SG rule for the Client VPN's client range."""
    group = world.endpoints["dev"].security_group_ids[0]
    world.consumer_client("dev", "ec2").revoke_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "172.16.0.0/22"}]}
        ],
    )
    return "172.16.0.0/22"


def targets_failing(world: AwsWorld) -> str:
    for instance in world.producer["instances"]:
        world.health[instance] = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    return "Target.FailedHealthChecks"


def instances_stopped(world: AwsWorld) -> str:
    """Both demo instances stopped: AWS reports them `unused`, Target.InvalidState, at once."""
    instances = list(world.producer["instances"])
    world.producer_client("ec2").stop_instances(InstanceIds=instances)
    for instance in instances:
        world.health[instance] = ("unused", "Target.InvalidState", "Target is in the stopped state")
    return f"instance {instances[0]} is stopped"


def instance_stopped_before_its_health_says_so(world: AwsWorld) -> str:
    """DescribeInstances already says stopped while DescribeTargetHealth still says healthy."""
    instance = next(iter(world.producer["instances"]))
    world.producer_client("ec2").stop_instances(InstanceIds=[instance])
    return f"is healthy, instance {instance} is stopped"


def az_targets_down(world: AwsWorld) -> str:
    """Cross-zone off, and the target in eu-central-1a fails its health checks."""
    world.producer_client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=world.producer["lb_arn"],
        Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "false"}],
    )
    for instance, az in world.producer["instances"].items():
        if az == "eu-central-1a":
            world.health[instance] = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    return "eu-central-1a (euc1-az1)"


def endpoint_in_unserved_az(world: AwsWorld) -> str:
    """One endpoint subnet is in dev's eu-central-1b: the producer's eu-central-1b is served, but in
    the dev account that name is euc1-az3, which the service does not publish."""
    ec2 = world.consumer_client("dev", "ec2")
    subnet = ec2.create_subnet(
        VpcId=world.consumer_vpcs["dev"], CidrBlock="10.10.3.0/24", AvailabilityZone="eu-central-1b"
    )["Subnet"]["SubnetId"]
    endpoint = world.endpoints["dev"]
    endpoint.subnets[1] = {
        "SubnetId": subnet,
        "AvailabilityZone": "eu-central-1b",
        "CidrBlock": "10.10.3.0/24",
    }
    return f"{subnet} (eu-central-1b = euc1-az3)"


def dns_hostnames_off(world: AwsWorld) -> str:
    world.consumer_client("dev", "ec2").modify_vpc_attribute(
        VpcId=world.consumer_vpcs["dev"], EnableDnsHostnames={"Value": False}
    )
    return "enableDnsHostnames off"


def private_dns_failed(world: AwsWorld) -> str:
    """AWS re-verifies the TXT record; it was removed, so the state is `failed`."""
    world.service.private_dns_state = "failed"
    return "hello.example.com"


def record_deleted(world: AwsWorld) -> str:
    world.set_record("dev", delete=True)
    return "hello.internal.company has no A/CNAME record"


def record_zonal(world: AwsWorld) -> str:
    zonal = world.endpoints["dev"].dns_entries()[1]["DnsName"]
    world.set_record("dev", alias=zonal)
    return "pins clients to one AZ"


def vpn_overlaps_vpc(world: AwsWorld) -> str:
    world.vpns["dev"].client_cidr = "10.10.252.0/22"
    return "10.10.252.0/22"


def vpn_rule_revoked(world: AwsWorld) -> str:
    world.vpns["dev"].rules = []
    return "10.10.0.0/16"


def vpn_rule_for_another_network(world: AwsWorld) -> str:
    world.vpns["dev"].rules = [("192.168.0.0/16", "active"), ("10.10.0.0/16", "revoking")]
    return "10.10.0.0/16 (revoking)"


def targets_on_wrong_port(world: AwsWorld) -> str:
    """The instances were registered on 9090, where nothing listens: health checks fail too."""
    elb, arn = world.producer_client("elbv2"), world.producer["tg_arn"]
    instances = list(world.producer["instances"])
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 8080} for i in instances])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 9090} for i in instances])
    for instance in instances:
        world.health[instance] = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    return ":9090"


def region_not_supported(world: AwsWorld) -> str:
    """eu-west-2 is not in SupportedRegions, so creating west's endpoint failed and rolled back."""
    world.service.supported_regions = []
    endpoint = world.endpoints.pop("west")
    world.connections = [c for c in world.connections if c.endpoint_id != endpoint.id]
    world.failed_stacks["privlink-hello-consumer-west"] = FailedStack(
        "ROLLBACK_COMPLETE",
        'Resource handler returned message: "The Vpc Endpoint Service '
        f"'{world.service.name}' does not exist (Service: Ec2, Status Code: 400, Request ID: "
        '5d3c7a1e-0b7e-4d3a-9a53-2f1e0c9d8b7a)" (HandlerErrorCode: GeneralServiceException)',
    )
    return "eu-west-2"


def endpoint_deleted(world: AwsWorld) -> str:
    """The consumer deleted its endpoint outside privlink; the provider sees the connection `deleted`."""
    endpoint = world.endpoints.pop("ops")
    for c in world.connections:
        if c.endpoint_id == endpoint.id:
            c.state = "deleted"
    return endpoint.id


def vpn_stack_deleted(world: AwsWorld) -> str:
    world.consumer_client("dev", "cloudformation").delete_stack(StackName="privlink-hello-vpn-dev")
    return "privlink-hello-vpn-dev"


FAULTS: list[tuple[Callable[[AwsWorld], str], str, str]] = [
    (pending, "connection-pending-acceptance", "error"),
    (rejected, "connection-rejected", "error"),
    (principal_removed, "principal-not-allowed", "error"),
    (sg_rule_revoked, "endpoint-sg-blocks-clients", "error"),
    (targets_failing, "targets-unhealthy", "error"),
    (instances_stopped, "targets-unhealthy", "error"),
    (instance_stopped_before_its_health_says_so, "targets-unhealthy", "warning"),
    (az_targets_down, "az-without-healthy-targets", "error"),
    (endpoint_in_unserved_az, "az-not-served", "error"),
    (dns_hostnames_off, "vpc-dns-attributes", "error"),
    (private_dns_failed, "private-dns-unverified", "error"),
    (record_deleted, "private-name-unresolved", "error"),
    (record_zonal, "private-name-unresolved", "warning"),
    (vpn_overlaps_vpc, "vpn-cidr-overlap", "error"),
    (vpn_rule_revoked, "vpn-not-authorized", "error"),
    (vpn_rule_for_another_network, "vpn-not-authorized", "error"),
    (targets_on_wrong_port, "listener-target-port-mismatch", "error"),
    (region_not_supported, "cross-region-not-supported", "error"),
    (endpoint_deleted, "endpoint-missing", "error"),
    (vpn_stack_deleted, "vpn-missing", "error"),
]


@pytest.mark.parametrize(("fault", "finding", "severity"), FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_fault_yields_exactly_its_finding(world, fault, finding, severity):
    needle = fault(world)
    found = problems(findings(world))
    assert set(found) == {finding}, {k: [f.evidence for f in v] for k, v in found.items()}
    assert {f.severity for f in found[finding]} == {severity}
    assert any(needle in f.evidence or needle in f.resource for f in found[finding])


def test_rolled_back_consumer_stack_says_why_its_endpoint_is_missing(world):
    region_not_supported(world)
    west = observe_aws(world.spec, world.clients).consumers[2]
    assert west.deployed and west.stack_status == "ROLLBACK_COMPLETE" and west.endpoint is None
    assert "does not exist" in west.endpoint_failure and world.service.name in west.endpoint_failure


# --- observation errors ------------------------------------------------------------------------


def test_failed_calls_are_recorded_and_the_rest_is_observed(world):
    world.fail(
        "dev",
        "eu-central-1",
        "ListHostedZonesByVPC",
        "AccessDenied",
        "User: arn:aws:sts::222222222222:assumed-role/privlink/privlink is not authorized to perform: "
        "route53:ListHostedZonesByVPC",
        403,
    )
    world.fail("prod", "eu-central-1", "DescribeTargetHealth", "Throttling", "Rate exceeded")
    world.fail(
        "ops",
        "eu-west-2",
        "DescribeVpcEndpoints",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
    )

    obs = observe_aws(world.spec, world.clients)

    assert sorted((e.side, e.call, e.code) for e in obs.errors) == [
        ("consumer:dev", "route53.list_hosted_zones_by_vpc", "AccessDenied"),
        ("consumer:west", "ec2.describe_vpc_endpoints", "UnauthorizedOperation"),
        ("producer", "elbv2.describe_target_health", "Throttling"),
    ]
    # Everything else was still read.
    dev, ops, west = obs.consumers
    assert dev.hosted_zones == [] and dev.endpoint.id == world.endpoints["dev"].id and dev.vpn is not None
    assert ops.endpoint.id == world.endpoints["ops"].id and ops.security_groups
    assert west.endpoint is None and len(west.subnets) == 2
    lb = obs.producer.load_balancer
    assert lb.listeners[0].port == 8080 and lb.target_groups[0].port == 8080
    assert lb.target_groups[0].targets == []
    assert len(obs.producer.connections) == 3
    failed = [f for f in run_checks(obs) if f.id == "describe-failed"]
    assert {f.severity for f in failed} == {"warning"}
    assert {f.resource for f in failed} == {"consumer:dev", "consumer:west", "producer"}


def test_consumer_side_connection_state_when_the_provider_cannot_be_read(world):
    world.fail(
        "prod",
        "eu-central-1",
        "DescribeVpcEndpointConnections",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
    )
    world.set_connection("dev", "pendingAcceptance")
    obs = observe_aws(world.spec, world.clients)
    assert obs.producer.connections == [] and obs.consumers[0].endpoint.state == "pendingAcceptance"
    found = problems(run_checks(obs))
    assert set(found) == {"describe-failed", "connection-pending-acceptance"}
    assert "consumer dev" in found["connection-pending-acceptance"][0].evidence


def test_a_missing_consumer_stack_is_not_deployed(world):
    world.consumer_client("ops", "cloudformation").delete_stack(StackName="privlink-hello-consumer-ops")
    obs = observe_aws(world.spec, world.clients)
    assert obs.errors == []
    ops = obs.consumers[1]
    assert ops.deployed is False and ops.endpoint is None
    assert [f.resource for f in run_checks(obs) if f.id == "not-deployed"] == ["privlink-hello-consumer-ops"]


def test_account_ids_come_from_sts_when_the_spec_names_none(deployed):  # noqa: F811
    text = spec_text().replace(', account_id: "222222222222"', "").replace(', account_id: "333333333333"', "")
    spec = parse_spec(text)
    assert spec.accounts["dev"].account_id is None and spec.accounts["ops"].account_id is None
    world = deployed(spec)

    obs = observe_aws(spec, world.clients)

    assert [c.account_id for c in obs.consumers] == ["222222222222", "333333333333", "333333333333"]
    assert obs.expected.consumer_accounts == ["222222222222", "333333333333"]
    assert ("dev", "eu-central-1", "GetCallerIdentity") in world.calls
    assert problems(run_checks(obs)) == {}


def test_stubbed_responses_are_checked_against_the_service_model(world):
    """A stubbed answer that AWS could not give (a number where EC2 returns a string) is refused."""
    from botocore.exceptions import ParamValidationError

    world.endpoints["dev"].state = 5
    with pytest.raises(ParamValidationError, match="State"):
        world.clients("dev", "eu-central-1", "ec2").describe_vpc_endpoints(
            VpcEndpointIds=[world.endpoints["dev"].id]
        )
