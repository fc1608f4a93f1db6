"""Expected times follow the templates: the longest resource path weighted by the one table."""

from __future__ import annotations

import copy

from plan_facts import spec_of

from privlink.lifecycle import latency
from privlink.templates.render import render_stacks


def by_part(spec):
    return {s.name.part: s.template for s in render_stacks(spec)}


def test_the_demo_stacks_expected_times(demo):
    times = {part: latency.stack_seconds(t) for part, t in by_part(demo).items()}
    assert times == {"producer": 230, "network": 30, "consumer": 100, "vpn": 670}


def test_chaining_the_vpn_associations_is_what_makes_them_add_up(demo):
    vpn = copy.deepcopy(by_part(demo)["vpn"])
    assert latency.stack_seconds(vpn) == 60 + 300 + 300 + 10
    del vpn["Resources"]["ClientVpnAssociation2"]["DependsOn"]
    vpn["Resources"]["ClientVpnAuthorizationRule"]["DependsOn"] = [
        "ClientVpnAssociation1",
        "ClientVpnAssociation2",
    ]
    assert latency.stack_seconds(vpn) == 60 + 300 + 10  # in parallel (which AWS refuses)


def test_more_azs_mean_more_associations_one_after_the_other():
    spec = spec_of(lambda d: [d["producer"]["vpc"].update(azs=3), d["consumers"][0]["vpc"].update(azs=3)])
    assert latency.stack_seconds(by_part(spec)["vpn"]) == 60 + 3 * 300 + 10


def test_an_update_counts_only_what_changes(demo):
    consumer = by_part(demo)["consumer"]
    assert latency.stack_seconds(consumer, only={"Endpoint"}) == 90
    assert latency.stack_seconds(consumer, only=set()) == 0


def test_references_cover_ref_getatt_sub_and_dependson():
    template = {
        "Resources": {
            "A": {"Type": "AWS::EC2::VPC"},
            "B": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {"X": {"Fn::Sub": "${A.Id}-${AWS::Region}"}},
            },
            "C": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {"Y": {"Fn::GetAtt": ["B", "DnsEntries"]}},
            },
            "D": {"Type": "AWS::Route53::RecordSet", "DependsOn": "C"},
            "E": {"Type": "AWS::Route53::HostedZone", "Properties": {"Z": {"Ref": "Param"}}},
        }
    }
    assert latency.resource_graph(template) == {"A": set(), "B": {"A"}, "C": {"B"}, "D": {"C"}, "E": set()}
    assert latency.stack_seconds(template) == 30 + 90 + 10 + 10
    assert latency.dependents(template, ["Param"]) == {"E"}


def test_every_figure_names_its_source():
    for figure in [*latency.LATENCY.values(), *latency.STEP_LATENCY.values(), latency.DEFAULT]:
        assert figure.source and figure.seconds >= 0
    for kind in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::EC2::ClientVpnTargetNetworkAssociation"):
        assert "issue" in latency.figure(kind).source
