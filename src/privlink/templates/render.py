"""From the spec to the stacks a target deploys: pure functions, no I/O.

`render_stacks(spec)` returns the producer stack and, per consumer, its network stack (when privlink
creates its VPC), its consumer stack (endpoint, private zone; after the producer and the network) and
its Client VPN stack (with `vpn`; after the network and the certificate import only).
`check_renderable(spec)` rejects specs that validate on their own but cannot be built (e.g. a
consumer in more AZs than the service); `limits.check_limits` then rejects templates over one of
CloudFormation's limits (body size, parameters, resources, outputs, inline Lambda code).
"""

from __future__ import annotations

import ipaddress
import json

from privlink.errors import SpecError
from privlink.spec.models import Spec, subnet_cidrs
from privlink.templates import naming
from privlink.templates.consumer import render_consumer
from privlink.templates.limits import check_limits
from privlink.templates.network import render_network
from privlink.templates.producer import MODELLED_IP_OFFSET, render_producer
from privlink.templates.stacks import RenderedStack
from privlink.templates.vpn import render_vpn


def check_renderable(spec: Spec) -> None:
    """Raise `SpecError` naming the field when the spec cannot become working templates."""
    producer = spec.producer
    service = producer.service
    producer_azs = producer.vpc.az_count
    for i, consumer in enumerate(spec.consumers):
        field = "azs" if consumer.vpc.cidr is not None else "subnet_ids"
        if not spec.is_cross_region(consumer) and consumer.vpc.az_count > producer_azs:
            raise SpecError(
                f"consumers[{i}].vpc.{field}",
                f"{consumer.vpc.az_count} AZs, but the service is only in the producer's "
                f"{producer_azs}; an endpoint can only use AZs the service's NLB is in",
                f"use at most {producer_azs} AZs, or raise producer.vpc.azs",
            )
        if spec.is_cross_region(consumer) and service.idle_timeout is not None:
            raise SpecError(
                "producer.service.idle_timeout",
                f"cross-region PrivateLink (consumers[{i}] is in {consumer.region}) does not work "
                "with a custom NLB idle timeout",
                f"remove idle_timeout (the NLB default is 350 s), or keep consumers in {producer.region}",
            )
    kinds = {"instance" if t.instance else "ip" for t in service.targets}
    if len(kinds) > 1:
        raise SpecError(
            "producer.service.targets",
            "mixes instance targets with ip/address targets; a target group takes one kind",
            "list only instances, or only IPs and addresses",
        )
    addresses = [n for n, t in enumerate(service.targets) if t.address is not None]
    if addresses and producer.vpc.cidr is None:
        raise SpecError(
            f"producer.service.targets[{addresses[0]}].address",
            "address targets need a producer VPC that privlink creates (vpc.cidr)",
            "give producer.vpc a cidr, or use ip/instance targets",
        )
    if addresses:
        assert producer.vpc.cidr is not None
        subnets = [ipaddress.IPv4Network(c) for c in subnet_cidrs(producer.vpc.cidr, producer_azs)]
        for n in addresses:
            subnet = subnets[n % len(subnets)]
            ip = subnet.network_address + MODELLED_IP_OFFSET + n // len(subnets)
            if ip >= subnet.broadcast_address:
                raise SpecError(
                    f"producer.service.targets[{n}].address",
                    f"too many address targets for the /{subnet.prefixlen} producer subnets",
                    "use fewer targets, or a larger producer.vpc.cidr",
                )


def render_stacks(spec: Spec) -> list[RenderedStack]:
    """Every stack of the spec, in deploy order, with its template and parameter bindings."""
    check_renderable(spec)
    producer_name = naming.producer_stack(spec.name)
    template, bindings = render_producer(spec)
    stacks = [
        RenderedStack(
            name=producer_name,
            account=spec.producer.account,
            region=spec.producer.region,
            template=template,
            parameters=bindings,
        )
    ]
    for consumer in spec.consumers:
        network: tuple[str, ...] = ()
        if consumer.vpc.cidr is not None:
            network_name = naming.network_stack(spec.name, consumer.name)
            template, bindings = render_network(spec, consumer)
            stacks.append(
                RenderedStack(
                    name=network_name,
                    account=consumer.account,
                    region=consumer.region,
                    template=template,
                    parameters=bindings,
                )
            )
            network = (network_name.name,)
        template, bindings = render_consumer(spec, consumer)
        stacks.append(
            RenderedStack(
                name=naming.consumer_stack(spec.name, consumer.name),
                account=consumer.account,
                region=consumer.region,
                template=template,
                parameters=bindings,
                depends_on=(producer_name.name, *network),
            )
        )
        if consumer.vpn is not None:
            template, bindings = render_vpn(spec, consumer)
            stacks.append(
                RenderedStack(
                    name=naming.vpn_stack(spec.name, consumer.name),
                    account=consumer.account,
                    region=consumer.region,
                    template=template,
                    parameters=bindings,
                    depends_on=network,
                )
            )
    check_limits(stacks)
    return stacks


def render_template_json(stack: RenderedStack) -> str:
    """The stack's template as CloudFormation JSON text (stable key order, trailing newline)."""
    return json.dumps(stack.template, indent=2) + "\n"
