"""An NLB's state in the data plane without sockets: health kept or reset across configs, target
pools, and the routes the node and ENI routers give a connection."""

from __future__ import annotations

from conftest import PORT, build_config
from privlink.targets.local.dataplane import ppv2
from privlink.targets.local.dataplane.config_model import DataPlaneConfig, LoadBalancer
from privlink.targets.local.dataplane.health import HEALTHY, INITIAL, UNHEALTHY, UNUSED
from privlink.targets.local.dataplane.load_balancer import LbRuntime, eni_router, node_router

BLOCK = "127.9.0.0/16"  # never bound here
A, B = ("127.9.2.1", 9001), ("127.9.2.2", 9002)  # where i-a (use1-az1) and i-b (use1-az2) listen
CLIENT = ("127.0.0.1", 40000)


class Transport:
    """What a router reads of an accepted connection: its peer."""

    def get_extra_info(self, name: str):
        assert name == "peername"
        return CLIENT


def config(**lb) -> DataPlaneConfig:
    data = build_config(BLOCK).model_dump(mode="json")
    data["load_balancers"][0].update(lb)
    return DataPlaneConfig.model_validate(data)


def lb_of(cfg: DataPlaneConfig) -> LoadBalancer:
    return cfg.load_balancers[0]


def runtime(lb: LoadBalancer, addresses=None) -> LbRuntime:
    rt = LbRuntime(lb)
    rt.reconfigure(lb, addresses or {"i-a": A, "i-b": B})
    return rt


def test_a_new_load_balancer_starts_every_target_initial_and_routes_round_robin():
    rt = runtime(lb_of(config(cross_zone=True)))
    assert rt.states() == {"i-a": INITIAL, "i-b": INITIAL}
    assert [rt.pick("use1-az1") for _ in range(3)] == [A, B, A]  # fail open to both


def test_health_is_kept_across_a_config_that_keeps_address_check_and_node():
    cfg = config(cross_zone=True)
    rt = runtime(lb_of(cfg))
    rt.health["i-a"].record(True)
    rt.health["i-b"].record(False)
    rt.health["i-b"].record(False)
    assert rt.states() == {"i-a": HEALTHY, "i-b": UNHEALTHY}
    rt.reconfigure(lb_of(config(cross_zone=True, idle_timeout_seconds=60)), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": HEALTHY, "i-b": UNHEALTHY}
    assert [rt.pick("use1-az2") for _ in range(2)] == [A, A]  # only the healthy target


def test_a_moved_target_starts_anew_and_the_pools_follow():
    rt = runtime(lb_of(config(cross_zone=True)))
    rt.health["i-a"].record(True)
    rt.health["i-b"].record(True)
    assert rt.pick("use1-az1") == A  # fills the pool
    moved = ("127.9.2.2", 9999)
    rt.reconfigure(rt.config, {"i-a": A, "i-b": moved})
    assert rt.states() == {"i-a": HEALTHY, "i-b": INITIAL}
    assert rt.addresses["i-b"] == moved
    assert {rt.pick("use1-az1") for _ in range(2)} == {A}  # the new pool: i-b is not healthy yet


def test_a_changed_health_check_starts_every_target_anew():
    rt = runtime(lb_of(config()))
    rt.health["i-a"].record(True)
    slower = {"interval_seconds": 30, "timeout_seconds": 10, "healthy_threshold": 3, "unhealthy_threshold": 3}
    rt.reconfigure(lb_of(config(health_check=slower)), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": INITIAL, "i-b": INITIAL}
    assert rt.health["i-a"].healthy_threshold == 3


def test_a_target_whose_az_loses_its_node_is_unused_until_the_node_returns():
    cfg = config()
    both = lb_of(cfg).nodes
    rt = runtime(lb_of(cfg))
    rt.health["i-b"].record(True)
    rt.reconfigure(lb_of(config(nodes=[both[0].model_dump()])), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": INITIAL, "i-b": UNUSED}
    rt.reconfigure(lb_of(config(nodes=[n.model_dump() for n in both])), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": INITIAL, "i-b": INITIAL}


def test_a_stopped_instance_is_unused_at_once_and_starts_anew_when_it_runs_again():
    """AWS: a stopped instance target is `unused` (Target.InvalidState) at once, not after failing
    its health checks; started again, it is checked from `initial`."""
    cfg = config(cross_zone=True)
    rt = runtime(lb_of(cfg))
    rt.health["i-a"].record(True)
    rt.health["i-b"].record(True)
    stopped = [t.model_dump() for t in lb_of(cfg).targets]
    stopped[0]["stopped"] = True
    stopped[0]["running"] = False
    rt.reconfigure(lb_of(config(cross_zone=True, targets=stopped)), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": UNUSED, "i-b": HEALTHY}
    assert {rt.pick("use1-az1") for _ in range(2)} == {B}
    rt.reconfigure(lb_of(cfg), {"i-a": A, "i-b": B})
    assert rt.states() == {"i-a": INITIAL, "i-b": HEALTHY}


def test_node_router_connects_from_the_node_and_names_the_client_with_ppv2():
    cfg = config(cross_zone=False, proxy_protocol=True)
    node = lb_of(cfg).nodes[1]
    route = node_router(runtime(lb_of(cfg)), node)(Transport())
    assert route == (*B, (node.bind_ip, 0), ppv2.encode(*CLIENT, node.private_ip, PORT))
    plain = config(cross_zone=False)
    assert node_router(runtime(lb_of(plain)), node)(Transport()) == (*B, (node.bind_ip, 0), None)


def test_eni_router_uses_the_node_of_its_az_id_and_names_the_endpoint_with_ppv2():
    cfg = config(cross_zone=False, proxy_protocol=True)
    ep = cfg.endpoints[0]
    eni = ep.enis[1]  # use1-az2, named us-east-1d in the consumer account
    node = lb_of(cfg).nodes[1]
    route = eni_router(runtime(lb_of(cfg)), ep, eni)(Transport())
    header = ppv2.encode(ep.source.ip, CLIENT[1], eni.private_ip, PORT, endpoint_id=ep.endpoint_id)
    assert route == (*B, (node.bind_ip, 0), header)


def test_eni_router_cross_region_takes_the_nodes_in_turn_and_skips_one_without_a_target():
    data = config(cross_zone=False).model_dump(mode="json")
    data["endpoints"][0]["cross_region"] = True
    cfg = DataPlaneConfig.model_validate(data)
    nodes = [n.bind_ip for n in lb_of(cfg).nodes]
    rt = runtime(lb_of(cfg))
    route = eni_router(rt, cfg.endpoints[0], cfg.endpoints[0].enis[0])
    assert [route(Transport())[2][0] for _ in range(3)] == [nodes[0], nodes[1], nodes[0]]
    rt.health["i-a"].record(True)  # healthy only in use1-az1: the node of use1-az2 has nothing to offer
    rt.health_changed()
    assert [route(Transport())[:3] for _ in range(2)] == [(*A, (nodes[0], 0))] * 2


def test_a_router_without_a_target_returns_no_route():
    cfg = config(cross_zone=False)
    rt = runtime(lb_of(cfg))
    rt.health["i-a"].record(True)  # healthy in use1-az1 only, cross-zone off
    rt.health_changed()
    assert node_router(rt, lb_of(cfg).nodes[1])(Transport()) is None
    assert eni_router(rt, cfg.endpoints[0], cfg.endpoints[0].enis[1])(Transport()) is None
