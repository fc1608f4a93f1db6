"""Faults to inject into the sandbox, one per doctor check, to practise the runbook.

Each fault changes the simulated world the way the mistake would exist on AWS (a security group
without the rule, a stopped instance, a record that is missing, ...); the data plane is rebuilt
from the world, so traffic really breaks. `clear` restores the world saved before the first fault.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from privlink.errors import BadInput
from privlink.spec.models import Consumer, Spec
from privlink.targets.local.dataplane import config_model as dp
from privlink.targets.local.engine.handlers.ec2 import INSTANCE
from privlink.targets.local.engine.handlers.route53 import ZONE
from privlink.templates import naming


@dataclass(frozen=True)
class Fault:
    name: str
    finding: str  # the doctor finding id it produces
    description: str
    apply: Callable[[object, Spec], None]  # (world, spec) -> None; raises BadInput when it cannot apply


FAULTS: dict[str, Fault] = {}


def fault(name: str, finding: str, description: str):
    def register(fn: Callable[[object, Spec], None]) -> Callable[[object, Spec], None]:
        FAULTS[name] = Fault(name, finding, description, fn)
        return fn

    return register


def inject(world, spec: Spec, name: str) -> Fault:
    """Apply fault `name` to `world` (in place)."""
    chosen = FAULTS.get(name)
    if chosen is None:
        raise BadInput("FAULT", f"unknown fault {name!r}", "see `privlink sandbox inject --list`")
    chosen.apply(world, spec)
    return chosen


def apply_to_dataplane(config: dp.DataPlaneConfig, faults: list[str]) -> dp.DataPlaneConfig:
    """Faults live in the world; the data plane config needs no further change."""
    return config


# -- helpers ------------------------------------------------------------------------------------


def _first_consumer(
    spec: Spec, applies: Callable[[Consumer], bool] = lambda _: True, why: str = "", hint: str = ""
):
    """The first consumer the fault applies to (a BadInput naming what it needs when none does)."""
    if not spec.consumers:
        raise BadInput("consumers", "the spec has no consumer to break", "add a consumer")
    found = next((c for c in spec.consumers if applies(c)), None)
    if found is None:
        raise BadInput("FAULT", why, hint)
    return found


def _stack(world, name: str):
    record = world.find_stack(name)
    if record is None:
        raise BadInput("sandbox", f"{name} is not deployed", "run `privlink up` first")
    return record


def _endpoint(world, spec: Spec, consumer: Consumer | None = None):
    consumer = consumer or _first_consumer(spec)
    record = _stack(world, naming.consumer_stack(spec.name, consumer.name).name)
    endpoint = world.endpoints.get(record.outputs.get(naming.OUT_ENDPOINT_ID, ""))
    if endpoint is None:
        raise BadInput("sandbox", f"the endpoint of {consumer.name} is missing", "run `privlink up` first")
    return endpoint


def _service(world, spec: Spec):
    record = _stack(world, naming.producer_stack(spec.name).name)
    return world.endpoint_services[record.outputs[naming.OUT_SERVICE_ID]]


def _producer_lb_and_tg(world, spec: Spec):
    service = _service(world, spec)
    lb = world.get_any(service.load_balancer_arns[0])
    listener = world.listeners_of(lb.id)[0]
    tg = world.get_any(listener.data["target_group_arns"][0])
    return lb, listener, tg


def _vpn(world, spec: Spec):
    consumer = _first_consumer(
        spec,
        lambda c: c.vpn is not None,
        "no consumer has a Client VPN",
        "add vpn: {client_cidr: 172.16.0.0/22} to a consumer, then `privlink up`",
    )
    record = _stack(world, naming.vpn_stack(spec.name, consumer.name).name)
    return world.get_any(record.outputs[naming.OUT_CLIENT_VPN_ENDPOINT_ID])


def _drop_endpoint(world, endpoint) -> None:
    """The endpoint as if its creation had failed: gone, its ENIs and DNS names with it."""
    world.set_endpoint_state(endpoint, "deleted")


# -- the faults -----------------------------------------------------------------------------------


@fault("pending-acceptance", "connection-pending-acceptance", "the connection waits for the provider")
def _pending(world, spec: Spec) -> None:
    world.set_endpoint_state(_endpoint(world, spec), "pendingAcceptance")


@fault("connection-rejected", "connection-rejected", "the provider rejected the connection")
def _rejected(world, spec: Spec) -> None:
    endpoint = _endpoint(world, spec)
    world.reject(endpoint.service_id, [endpoint.id])


@fault(
    "principal-not-allowed",
    "principal-not-allowed",
    "the consumer's principal is not in the allowed principals, so its endpoint could not be created",
)
def _principal(world, spec: Spec) -> None:
    endpoint = _endpoint(world, spec)
    service = world.endpoint_services[endpoint.service_id]
    owner = world.account(endpoint.account)
    service.allowed_principals = [
        p for p in service.allowed_principals if p not in (owner.root_arn, owner.caller_arn, "*")
    ]
    _drop_endpoint(world, endpoint)


@fault(
    "endpoint-sg-closed", "endpoint-sg-blocks-clients", "the endpoint's security group has no inbound rule"
)
def _sg_closed(world, spec: Spec) -> None:
    for group_id in _endpoint(world, spec).security_group_ids:
        group = world.get_any(group_id)
        group.data["ingress"] = []
        group.data["extra_ingress"] = []


def _stop(instances) -> None:
    for instance in instances:
        instance.data["state"] = "stopped"


def _demo_instances(world, tg):
    ids = {t["Id"] for t in tg.data.get("targets", [])}
    found = [r for r in (world.get_any(i, INSTANCE) for i in ids) if r is not None]
    if not found:
        raise BadInput("FAULT", "the producer has no demo app instances to stop", "use app: demo")
    return found


@fault("targets-down", "targets-unhealthy", "every target instance is stopped")
def _targets_down(world, spec: Spec) -> None:
    _, _, tg = _producer_lb_and_tg(world, spec)
    _stop(_demo_instances(world, tg))


@fault(
    "az-targets-down",
    "az-without-healthy-targets",
    "cross-zone load balancing is off and the targets of one AZ are stopped",
)
def _az_targets_down(world, spec: Spec) -> None:
    lb, _, tg = _producer_lb_and_tg(world, spec)
    lb.data.setdefault("attributes", {})["load_balancing.cross_zone.enabled"] = "false"
    instances = _demo_instances(world, tg)
    first_az = sorted(i.attributes.get("AvailabilityZone", "") for i in instances)[0]
    _stop([i for i in instances if i.attributes.get("AvailabilityZone") == first_az])


@fault(
    "az-mismatch",
    "az-not-served",
    "a consumer subnet sits in an AZ ID where the service has no load balancer node",
)
def _az_mismatch(world, spec: Spec) -> None:
    consumer = _first_consumer(
        spec,
        lambda c: c.region == spec.producer.region,
        "no consumer is in the producer's region (cross-region endpoints use their own region's AZs)",
        "add a consumer in producer.region, then `privlink up`",
    )
    endpoint = _endpoint(world, spec, consumer)
    service = world.endpoint_services[endpoint.service_id]
    mapping = world.az_mapping(endpoint.account, endpoint.region)
    spare = [(name, az_id) for name, az_id in mapping.items() if az_id not in service.az_ids]
    if not spare:
        raise BadInput(
            "FAULT",
            f"the producer uses every AZ of {endpoint.region}",
            "set producer.vpc.azs below the region's AZ count, then `privlink up`",
        )
    subnet = world.get_any(endpoint.subnet_ids[0])
    subnet.data["az"], subnet.data["az_id"] = spare[0]
    subnet.attributes["AvailabilityZone"], subnet.attributes["AvailabilityZoneId"] = spare[0]


@fault("vpc-dns-off", "vpc-dns-attributes", "the consumer VPC has DNS support and hostnames off")
def _vpc_dns_off(world, spec: Spec) -> None:
    vpc = world.get_any(_endpoint(world, spec).vpc_id)
    vpc.data["dns_support"] = False
    vpc.data["dns_hostnames"] = False


@fault(
    "private-dns-unverified",
    "private-dns-unverified",
    "the service's private DNS name is not verified, so consumers cannot use it",
)
def _private_dns_unverified(world, spec: Spec) -> None:
    service = _service(world, spec)
    if not service.private_dns_name:
        raise BadInput(
            "FAULT",
            "the service has no private DNS name",
            "set producer.endpoint_service.private_dns_name in the spec, then `privlink up`",
        )
    _first_consumer(
        spec,
        lambda c: c.private_dns_enabled,
        "no consumer uses the service's private DNS name",
        "set private_dns_enabled: true on a consumer, then `privlink up`",
    )
    service.private_dns_state = "pendingVerification"


@fault("dns-record-missing", "private-name-unresolved", "the private zone has no record for the name")
def _record_missing(world, spec: Spec) -> None:
    consumer = _first_consumer(
        spec,
        lambda c: c.private_dns is not None,
        "no consumer has a private zone",
        "add private_dns: {zone: internal.company, record: hello} to a consumer, then `privlink up`",
    )
    assert consumer.private_dns is not None
    wanted = consumer.private_dns.fqdn
    for zone in world.of_type(ZONE):
        for key in [
            k for k, r in zone.data.get("records", {}).items() if r.get("name", "").rstrip(".") == wanted
        ]:
            del zone.data["records"][key]


@fault("vpn-cidr-overlap", "vpn-cidr-overlap", "the Client VPN's client CIDR overlaps the VPC CIDR")
def _vpn_overlap(world, spec: Spec) -> None:
    cvpn = _vpn(world, spec)
    vpc = world.get_any(cvpn.data["vpc_id"])
    vpc_net = ipaddress.IPv4Network(vpc.data["cidr"])
    cvpn.data["client_cidr"] = (
        str(vpc_net) if vpc_net.prefixlen >= 12 else str(next(vpc_net.subnets(new_prefix=12)))
    )


@fault("vpn-unauthorized", "vpn-not-authorized", "the Client VPN has no authorization rule for the VPC")
def _vpn_unauthorized(world, spec: Spec) -> None:
    _vpn(world, spec).data["authorization_rules"] = []


@fault(
    "port-mismatch",
    "listener-target-port-mismatch",
    "the target group sends to a port the targets do not listen on",
)
def _port_mismatch(world, spec: Spec) -> None:
    _, _, tg = _producer_lb_and_tg(world, spec)
    wrong = spec.producer.service.backend_port + 1
    tg.data["port"] = wrong
    for entry in tg.data.get("targets", []):
        entry["Port"] = wrong


@fault(
    "region-not-supported",
    "cross-region-not-supported",
    "the consumer's region is not in the service's supported regions, so its endpoint could not be created",
)
def _region(world, spec: Spec) -> None:
    consumer = _first_consumer(
        spec,
        lambda c: c.region != spec.producer.region,
        "no consumer is in another region than the producer",
        "add a consumer whose region differs from producer.region, then `privlink up`",
    )
    endpoint = _endpoint(world, spec, consumer)
    service = world.endpoint_services[endpoint.service_id]
    service.supported_regions = [r for r in service.supported_regions if r != endpoint.region]
    _drop_endpoint(world, endpoint)
