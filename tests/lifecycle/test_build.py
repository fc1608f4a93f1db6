"""Planning `up` and `down`: assertions on plans, no target involved."""

from __future__ import annotations

import pytest
from plan_facts import deployed, facts_for, spec_of

from privlink.errors import DeployFailed, StateError
from privlink.lifecycle.build import plan_down, plan_up
from privlink.lifecycle.facts import CertificateFact
from privlink.lifecycle.model import StepKind
from privlink.templates.render import render_stacks

P, N, C, V = (
    "privlink-hello-producer",
    "privlink-hello-network-dev",
    "privlink-hello-consumer-dev",
    "privlink-hello-vpn-dev",
)


def up(spec, **facts):
    return plan_up(spec, render_stacks(spec), facts_for(spec, **facts))


def edges(plan):
    return {s.id: s.after for s in plan.steps}


def test_the_demo_plan_starts_the_network_certificates_and_producer_at_once(demo):
    plan = up(demo)
    assert (
        edges(plan)
        == {
            f"deploy:{P}": (),
            f"deploy:{N}": (),
            f"deploy:{C}": (f"deploy:{P}", f"deploy:{N}"),
            "import-certificates:dev": (),
            f"deploy:{V}": (f"deploy:{N}", "import-certificates:dev"),  # not the endpoint, not the producer
            "accept-connections:dev": (f"deploy:{C}",),
            "wait-healthy": tuple(s.id for s in plan.steps[:-1]),
        }
    )
    times = {s.id: s.expected_seconds for s in plan.steps}
    assert times == {
        f"deploy:{P}": 230,  # VPC 30 + NLB 180 + endpoint service 20 (the listener runs beside it)
        f"deploy:{N}": 30,
        f"deploy:{C}": 100,  # endpoint 90 + record 10 (the zone's 45 s beside the endpoint)
        "import-certificates:dev": 5,
        f"deploy:{V}": 670,  # Client VPN endpoint 60 + 2 x 300 associations one at a time + rule 10
        "accept-connections:dev": 10,
        "wait-healthy": 30,  # 10 s interval x 3 healthy checks, counted from the producer's end
    }
    assert plan.expected_seconds() == 700
    assert [s.id for s in plan.critical_path()] == [f"deploy:{N}", f"deploy:{V}", "wait-healthy"]


def test_az_ids_are_decided_up_front_for_the_producer_and_the_same_region_network(demo):
    plan = up(demo)
    producer = plan.step(f"deploy:{P}").override_values
    network = plan.step(f"deploy:{N}").override_values
    # the producer's account names its first two AZs euc1-az2, euc1-az3; dev's subnets go in the
    # same AZ IDs (names differ per account), so the endpoint has a load-balancer node in each
    assert producer["AvailabilityZoneIds"] == "euc1-az2,euc1-az3" == network["AvailabilityZoneIds"]
    assert producer["DemoImageId"].startswith("ami-")


def test_deployed_stacks_keep_their_az_ids_and_the_recorded_ami(demo):
    stacks = [
        deployed(P, "prod", AvailabilityZoneIds="euc1-az1,euc1-az2", DemoImageId="ami-old"),
        deployed(N, AvailabilityZoneIds="euc1-az1,euc1-az2"),
    ]
    path = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    plan = up(demo, stacks=stacks, images={("eu-central-1", path): "ami-old"})
    assert plan.step(f"deploy:{P}").override_values == {
        "AvailabilityZoneIds": "euc1-az1,euc1-az2",
        "DemoImageId": "ami-old",
    }
    assert plan.step(f"deploy:{N}").override_values == {"AvailabilityZoneIds": "euc1-az1,euc1-az2"}
    assert plan.step(f"deploy:{P}").expected_seconds == 0  # exists: its change set decides
    assert plan.step("wait-healthy").expected_seconds == 0


def private_dns(acceptance=True, auto_accept=True):
    def edit(d):
        d["producer"]["endpoint_service"].update(
            private_dns_name="hello.example.com", acceptance_required=acceptance, auto_accept=auto_accept
        )
        d["consumers"][0]["private_dns_enabled"] = True

    return spec_of(edit)


def test_private_dns_is_enabled_by_a_stack_update_after_the_connection_is_accepted():
    plan = up(private_dns())
    assert edges(plan)["verify-private-dns"] == (f"deploy:{P}",)
    assert edges(plan)[f"deploy:{C}"] == (f"deploy:{P}", f"deploy:{N}")  # created with private DNS off
    enable = plan.step("enable-private-dns:dev")
    assert enable.kind is StepKind.ENABLE_PRIVATE_DNS and enable.stack_name == C
    assert enable.after == ("accept-connections:dev", "verify-private-dns")
    assert enable.override_values == {"PrivateDnsEnabled": "true"}
    assert enable.expected_seconds == 90  # the endpoint is what the parameter changes
    assert "PrivateDnsEnabled" not in plan.step(f"deploy:{C}").override_values  # the binding: "false"


def test_private_dns_stays_on_where_a_run_turned_it_on():
    stacks = [deployed(C, PrivateDnsEnabled="true", VpcId="vpc-1", SubnetIds="subnet-1")]
    plan = up(private_dns(), stacks=stacks)
    assert plan.step(f"deploy:{C}").override_values == {"PrivateDnsEnabled": "true"}
    assert "enable-private-dns:dev" not in edges(plan)  # no off-and-on again


def test_without_acceptance_the_endpoint_is_created_with_private_dns_after_verification():
    plan = up(private_dns(acceptance=False))
    assert "verify-private-dns" in edges(plan)[f"deploy:{C}"]
    assert "accept-connections:dev" not in edges(plan) and "enable-private-dns:dev" not in edges(plan)


def test_with_auto_accept_off_the_plan_waits_for_a_manual_acceptance_only_when_it_must():
    plan = up(private_dns(auto_accept=False))
    accept = plan.step("accept-connections:dev")
    assert accept.argument_values == {"accept": "false", "wait": "true"}
    assert plan.notes == (
        "auto_accept is off: accept dev's connection with privlink connections accept ID "
        "(up waits for it, then enables private DNS)",
    )
    off = up(spec_of(lambda d: d["producer"]["endpoint_service"].update(auto_accept=False)))
    assert off.step("accept-connections:dev").argument_values == {"accept": "false", "wait": "false"}
    assert off.step("accept-connections:dev").expected_seconds == 0


def two_vpns(other_account=False):
    def edit(d):
        second = dict(d["consumers"][0], name="qa", account="qa" if other_account else "dev")
        second["vpc"] = {"cidr": "10.30.0.0/16", "azs": 2}
        d["consumers"].append(second)
        d["accounts"]["qa"] = {"profile": "qa"}

    return spec_of(edit)


def test_client_vpn_stacks_in_one_account_and_region_run_one_after_the_other():
    plan = up(two_vpns())
    assert edges(plan)["deploy:privlink-hello-vpn-qa"] == (
        "deploy:privlink-hello-network-qa",
        "import-certificates:qa",
        f"deploy:{V}",  # AWS creates one Client VPN endpoint at a time per account and region
    )
    apart = up(two_vpns(other_account=True))
    assert f"deploy:{V}" not in edges(apart)["deploy:privlink-hello-vpn-qa"]


def test_orphans_are_deleted_after_the_rest_with_the_certificates_recorded_for_them():
    spec = spec_of(lambda d: d["consumers"][0].pop("vpn"))
    certs = [CertificateFact("dev", "dev", "eu-central-1", ("arn:aws:acm:eu-central-1:1:certificate/a",))]
    plan = up(spec, stacks=[deployed(V, VpcId="vpc-1")], certificates=certs)
    delete = plan.step(f"delete:{V}")
    assert delete.kind is StepKind.DELETE and set(delete.after) >= {f"deploy:{C}", "accept-connections:dev"}
    certificates = plan.step("delete-certificates:dev")
    assert f"delete:{V}" in certificates.after
    assert certificates.argument_values == {"arn": "arn:aws:acm:eu-central-1:1:certificate/a"}
    assert (certificates.account, certificates.region) == ("dev", "eu-central-1")
    assert {f"delete:{V}", "delete-certificates:dev"} <= set(plan.step("wait-healthy").after)


def test_a_deployment_with_the_earlier_layout_is_told_to_run_down_first(demo):
    with pytest.raises(StateError) as info:
        up(demo, stacks=[deployed(C, ServiceName="x", ServiceAvailabilityZoneIds="a,b")])
    assert info.value.where == C and info.value.exit_code == 2
    assert "holds the VPC that privlink-hello-network-dev now holds" in info.value.what
    assert info.value.hint == "run privlink down, then privlink up"
    with pytest.raises(StateError, match="subnets follow AZ names"):
        up(demo, stacks=[deployed(P, "prod", AccountIdDev="222222222222")])


@pytest.mark.parametrize(
    "status, command",
    [
        ("UPDATE_ROLLBACK_FAILED", "aws cloudformation continue-update-rollback --stack-name"),
        ("ROLLBACK_FAILED", "privlink down, or aws cloudformation delete-stack --stack-name"),
        ("DELETE_FAILED", "privlink down (it deletes it again), or aws cloudformation delete-stack"),
    ],
)
def test_stacks_that_need_a_hand_stop_up_with_the_command_that_recovers_them(demo, status, command):
    with pytest.raises(DeployFailed) as info:
        up(demo, stacks=[deployed(N, status=status, AvailabilityZoneIds="euc1-az2,euc1-az3")])
    assert info.value.where == N
    assert info.value.what == f"{status}: CloudFormation cannot update it"
    assert info.value.hint.startswith(command)
    assert f"{N} --region eu-central-1" in info.value.hint and "account dev" in info.value.hint


def test_down_walks_the_graph_backwards_over_what_exists(demo):
    stacks = [
        deployed(P, "prod"),
        deployed(N),
        deployed(C),
        deployed(V),
        deployed("privlink-hello-consumer-old"),  # a consumer no longer in the spec
        deployed("privlink-other-producer", "prod"),  # another link: not ours
    ]
    certs = [
        CertificateFact("dev", "dev", "eu-central-1", ("arn:dev",)),
        CertificateFact("old", "dev", "eu-west-1", ("arn:old",)),
    ]
    plan = plan_down(demo, render_stacks(demo), facts_for(demo, stacks=stacks, certificates=certs))
    assert edges(plan) == {
        "delete:privlink-hello-consumer-dev": (),
        "delete:privlink-hello-consumer-old": (),
        "delete:privlink-hello-vpn-dev": (),
        "delete:privlink-hello-network-dev": (
            "delete:privlink-hello-consumer-dev",
            "delete:privlink-hello-vpn-dev",
        ),
        "reject-connections": ("delete:privlink-hello-consumer-dev", "delete:privlink-hello-consumer-old"),
        f"delete:{P}": ("reject-connections",),
        "delete-certificates:dev": ("delete:privlink-hello-vpn-dev",),
        "delete-certificates:old": (),  # recorded in state: deleted although the spec forgot it
    }
    assert plan.step("delete-certificates:old").region == "eu-west-1"
    assert plan.is_valid_order([s.id for s in plan.order()])


def test_down_with_a_spec_that_no_longer_renders_still_deletes_everything_by_part(demo):
    stacks = [deployed(P, "prod"), deployed(N), deployed(C), deployed(V)]
    plan = plan_down(demo, [], facts_for(demo, stacks=stacks))
    assert edges(plan)[f"delete:{N}"] == (f"delete:{C}", f"delete:{V}")
    assert edges(plan)[f"delete:{P}"] == ("reject-connections",)
