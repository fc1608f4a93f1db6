"""Spec-derived expectations shared by every observation builder (pure)."""

from __future__ import annotations

from collections.abc import Callable

from privlink.observe.model import Consumer, Expectations
from privlink.partitions import partition_of
from privlink.spec.models import Consumer as SpecConsumer
from privlink.spec.models import Spec


def consumer_principal(consumer: SpecConsumer, account_id: str) -> str:
    """The principal the producer must allow for a consumer: its role ARN, else its account root
    (in the consumer region's partition)."""
    if consumer.principal:
        return consumer.principal
    return partition_of(consumer.region).arn("iam", "", account_id, "root") if account_id else ""


def expected_names(spec: Spec, consumer: SpecConsumer) -> list[str]:
    """Every name clients in this consumer are meant to use: its private zone's record, and the
    service's private DNS name when the consumer enables private DNS."""
    names = []
    if consumer.private_dns is not None:
        names.append(consumer.private_dns.fqdn)
    if consumer.private_dns_enabled and spec.producer.endpoint_service.private_dns_name:
        names.append(spec.producer.endpoint_service.private_dns_name)
    return list(dict.fromkeys(n.rstrip(".").lower() for n in names))


def expected_private_name(spec: Spec, consumer: SpecConsumer) -> str | None:
    """The name clients in this consumer resolve: the PHZ record, else the service's private name."""
    names = expected_names(spec, consumer)
    return names[0] if names else None


def expectations(spec: Spec, account_ids: dict[str, str]) -> Expectations:
    """What the spec asks for; `account_ids` maps account labels to 12-digit IDs where known."""
    principals = [
        p for p in (consumer_principal(c, account_ids.get(c.account, "")) for c in spec.consumers) if p
    ]
    return Expectations(
        link=spec.name,
        service_port=spec.producer.service.port,
        target_port=spec.producer.service.backend_port,
        producer_region=spec.producer.region,
        private_dns_name=spec.producer.endpoint_service.private_dns_name,
        consumer_principals=principals,
        consumer_accounts=sorted(
            {account_ids[c.account] for c in spec.consumers if c.account in account_ids}
        ),
    )


def consumer_skeleton(spec: Spec, consumer: SpecConsumer, account_id: str) -> Consumer:
    """A consumer observation with only the spec's expectations filled in."""
    clients = [consumer.vpc.cidr] if consumer.vpc.cidr else []
    if consumer.vpn is not None:
        clients.append(consumer.vpn.client_cidr)
    return Consumer(
        name=consumer.name,
        account_label=consumer.account,
        account_id=account_id,
        region=consumer.region,
        vpn_expected=consumer.vpn is not None,
        expected_private_name=expected_private_name(spec, consumer),
        expected_clients=clients,
        principal=consumer_principal(consumer, account_id),
    )


def probe_names(spec: Spec, consumer: str, status: Callable[[], dict]) -> list[str]:
    """The names `privlink test` resolves for `consumer`: every name it is meant to use, else the
    endpoint's regional DNS name (read from the target's `status()`, called only when needed)."""
    from privlink.errors import BadInput, StateError

    try:
        spec_consumer = spec.consumer(consumer)
    except KeyError:
        raise BadInput(
            "--consumer", f"no consumer named {consumer!r}", "see `consumers:` in the spec"
        ) from None
    names = expected_names(spec, spec_consumer)
    if names:
        return names
    entries = next(c for c in status()["consumers"] if c["name"] == consumer)["dns_entries"]
    if not entries:
        raise StateError("test", f"{consumer} has no endpoint", "run `privlink doctor`")
    return [entries[0].split(":", 1)[1]]
