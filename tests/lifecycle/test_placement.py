"""AZ IDs decided up front, from the facts; an existing VPC's subnets checked before deploying."""

from __future__ import annotations

import pytest
from plan_facts import facts_for, spec_of

from privlink.errors import BadInput
from privlink.lifecycle.facts import NO_CROSS_REGION_AZ_IDS
from privlink.lifecycle.placement import place
from privlink.targets.local.engine.handlers import privatelink


def test_the_sandbox_refuses_the_same_az_ids_the_plan_avoids():
    assert privatelink.NO_CROSS_REGION_AZ_IDS is NO_CROSS_REGION_AZ_IDS  # one constant, both targets


def test_same_region_consumers_take_the_producers_az_ids(demo):
    placement = place(demo, facts_for(demo))
    assert placement.producer == ("euc1-az2", "euc1-az3")  # prod's eu-central-1a and -1b
    assert placement.consumers == {"dev": ("euc1-az2", "euc1-az3")}  # dev's -1b and -1c


def test_the_demo_app_needs_its_instance_type_in_every_producer_az(demo):
    facts = facts_for(demo, offerings={("prod", "eu-central-1"): {"t3.micro": {"euc1-az3"}}})
    assert place(demo, facts).producer == ("euc1-az2", "euc1-az1")


def test_cross_region_avoids_the_az_ids_without_cross_region_privatelink():
    spec = spec_of(cross_region=True)
    placement = place(spec, facts_for(spec))
    assert "use1-az3" not in placement.producer
    assert placement.producer == ("use1-az6", "use1-az1")
    assert placement.consumers["dev"] == ("euw2-az2", "euw2-az1")  # its own region's AZs


def test_the_test_instance_gets_a_first_subnet_that_offers_its_type():
    spec = spec_of(
        lambda d: d["consumers"][0].update(test_instance={"enabled": True, "instance_type": "t4g.nano"})
    )
    facts = facts_for(spec, offerings={("dev", "eu-central-1"): {"t4g.nano": {"euc1-az2"}}})
    assert place(spec, facts).consumers["dev"] == ("euc1-az3", "euc1-az2")
    nowhere = facts_for(
        spec, offerings={("dev", "eu-central-1"): {"t4g.nano": {"euc1-az1", "euc1-az2", "euc1-az3"}}}
    )
    with pytest.raises(BadInput) as info:
        place(spec, nowhere)
    assert info.value.where == "consumers[0].test_instance.instance_type"


def test_too_few_usable_azs_is_one_line_naming_the_field_and_what_was_left_out():
    spec = spec_of(lambda d: d["producer"]["vpc"].update(azs=4), cross_region=True)
    with pytest.raises(BadInput) as info:
        place(spec, facts_for(spec))
    assert info.value.where == "producer.vpc.azs"
    assert info.value.what == (
        "4 AZs wanted, but account prod has 3 usable in us-east-1: use1-az6, use1-az1, use1-az2; "
        "left out use1-az3 (no cross-region PrivateLink)"
    )
    assert info.value.hint == "use azs: 3"


SUBNETS = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]


def existing_consumer_vpc(d):
    d["consumers"][0]["vpc"] = {"id": "vpc-0bbbbbbbbbbbbbbbb", "subnet_ids": SUBNETS}


def test_an_existing_consumer_vpc_must_sit_in_the_services_az_ids():
    spec = spec_of(existing_consumer_vpc)
    ok = facts_for(spec, subnets={SUBNETS[0]: "euc1-az3", SUBNETS[1]: "euc1-az2"})
    assert place(spec, ok).consumers == {}
    wrong = facts_for(spec, subnets={SUBNETS[0]: "euc1-az3", SUBNETS[1]: "euc1-az1"})
    with pytest.raises(BadInput) as info:
        place(spec, wrong)
    assert info.value.exit_code == 2
    assert info.value.where == "consumers[0].vpc.subnet_ids"
    assert info.value.what == (
        f"{SUBNETS[1]} is in euc1-az1; the service's load balancer is only in euc1-az2, euc1-az3"
    )
    assert info.value.hint == "use subnets in euc1-az2, euc1-az3"


def test_an_existing_cross_region_consumer_vpc_avoids_the_az_ids_without_cross_region():
    spec = spec_of(existing_consumer_vpc, cross_region=True)
    facts = facts_for(spec, subnets={SUBNETS[0]: "euw2-az1", SUBNETS[1]: "use1-az3"})
    with pytest.raises(BadInput, match="use1-az3, where cross-region PrivateLink is not offered"):
        place(spec, facts)
