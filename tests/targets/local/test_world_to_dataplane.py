"""The loopback addresses the world's ENIs and consumer VPC resolvers get (pure)."""

from __future__ import annotations

from types import SimpleNamespace

from privlink.targets.local.dataplane.config_model import (
    eni_address,
    eni_index,
    resolver_address,
    resolver_index,
)
from privlink.targets.local.world_to_dataplane import loopback_addresses

BLOCK = "127.50.0.0/16"


def world(*endpoints: tuple[str, list[str], str], vpcs: tuple[str, ...] = ()):
    """Endpoints as (state, ENI ids, VPC id); each ENI in a subnet of its own."""
    made = {
        f"vpce-{i}": SimpleNamespace(
            state=state,
            subnet_ids=[f"subnet-{e}" for e in enis],
            network_interfaces={f"subnet-{e}": e for e in enis},
        )
        for i, (state, enis, _) in enumerate(endpoints)
    }
    resources = {v: SimpleNamespace(id=v) for v in [*vpcs, *(vpc for _, _, vpc in endpoints)]}
    return SimpleNamespace(endpoints=made, resources=resources)


def test_the_layouts_invert():
    for i in (0, 1, 249, 250, 12345):
        assert eni_index(BLOCK, eni_address(BLOCK, i)) == i
    for i in (0, 253):
        assert resolver_index(BLOCK, resolver_address(BLOCK, i)) == i
    for ip in ("127.50.3.1", "127.51.10.1", "127.50.10.251", "127.50.9.1", "10.0.0.1", "nonsense"):
        assert eni_index(BLOCK, ip) is None
    for ip in ("127.50.10.1", "127.50.3.255", "127.50.3.0"):
        assert resolver_index(BLOCK, ip) is None


def test_known_addresses_are_kept_and_new_ones_take_the_lowest_free():
    w = world(("available", ["eni-b"], "vpc-1"), ("available", ["eni-new", "eni-a"], "vpc-2"))
    known = {
        "eni-a": eni_address(BLOCK, 2),
        "eni-b": eni_address(BLOCK, 0),
        "vpc-2": resolver_address(BLOCK, 1),
    }
    got = loopback_addresses(w, BLOCK, {"vpc-1": "dev", "vpc-2": "qa"}, known)
    assert got == {
        "eni-b": eni_address(BLOCK, 0),
        "eni-new": eni_address(BLOCK, 1),
        "eni-a": eni_address(BLOCK, 2),
        "vpc-1": resolver_address(BLOCK, 0),
        "vpc-2": resolver_address(BLOCK, 1),
    }


def test_deleted_enis_free_their_addresses_and_bad_known_ones_are_replaced():
    w = world(("deleted", ["eni-gone"], "vpc-1"), ("available", ["eni-x", "eni-y", "eni-z"], "vpc-1"))
    known = {
        "eni-gone": eni_address(BLOCK, 0),
        "eni-x": "127.99.10.1",  # another block's
        "eni-y": resolver_address(BLOCK, 0),  # not an ENI address
        "eni-z": eni_address(BLOCK, 5),
    }
    got = loopback_addresses(w, BLOCK, {}, known)
    assert got == {
        "eni-x": eni_address(BLOCK, 0),
        "eni-y": eni_address(BLOCK, 1),
        "eni-z": eni_address(BLOCK, 5),
    }


def test_two_keys_claiming_one_address_keep_it_for_the_first_only():
    w = world(("available", ["eni-1", "eni-2"], "vpc-1"))
    got = loopback_addresses(w, BLOCK, {}, {"eni-1": eni_address(BLOCK, 3), "eni-2": eni_address(BLOCK, 3)})
    assert got == {"eni-1": eni_address(BLOCK, 3), "eni-2": eni_address(BLOCK, 0)}
