"""The monthly bill of a spec, line by line, from a dated us-east-1 price table shipped in the package.

Pure: `estimate(spec, usage)` reads nothing but the price table (`load_prices()` by default, or
the `prices` mapping passed in) and returns an `Estimate`; the CLI prints it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from privlink.errors import BadInput
from privlink.spec.models import Consumer, Spec

UNCONFIRMED = "UNCONFIRMED"
TEST_ROOT_VOLUME_GB = 8  # the Amazon Linux 2023 AMI's root volume; the template keeps its size
AddLine = Callable[..., None]


@dataclass(frozen=True)
class Usage:
    """What the spec does not say: traffic and VPN use per month, and the connection pattern."""

    gb_per_month: float = 100.0  # data through the link, all consumers together
    vpn_users: int = 2  # per Client VPN endpoint
    vpn_hours: float = 160.0  # connected hours per user per month
    new_connections_per_second: float = 1.0  # at the NLB, averaged over the month
    active_connections: int = 100  # concurrent, at the NLB

    def check(self) -> Usage:
        for flag, value in (
            ("--gb-per-month", self.gb_per_month),
            ("--vpn-users", self.vpn_users),
            ("--vpn-hours", self.vpn_hours),
            ("--new-connections-per-second", self.new_connections_per_second),
            ("--active-connections", self.active_connections),
        ):
            if value < 0:
                raise BadInput(flag, f"must not be negative, got {value}", "give 0 or more")
        if self.vpn_hours > 744:
            raise BadInput(
                "--vpn-hours", f"{self.vpn_hours} is more hours than a month has", "give 744 or fewer"
            )
        return self


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    unit_price: float
    monthly: float
    note: str = ""


@dataclass(frozen=True)
class Estimate:
    lines: list[Line]
    total: float
    currency: str
    region: str
    as_of: str
    check: str
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "prices_region": self.region,
            "prices_as_of": self.as_of,
            "check": self.check,
            "assumptions": list(self.assumptions),
            "lines": [asdict(line) for line in self.lines],
            "total": self.total,
        }


def load_prices() -> dict[str, Any]:
    """The price table shipped in the package (`privlink/data/prices.json`)."""
    text = resources.files("privlink").joinpath("data/prices.json").read_text(encoding="utf-8")
    return json.loads(text)


def tiered(gb: float, tiers: list[dict[str, Any]], already: float = 0.0) -> float:
    """The cost of `gb` more GB when `already` GB were billed this month in the same region."""
    cost, start = 0.0, 0.0
    remaining, position = gb, already
    for tier in tiers:
        end = float("inf") if tier["up_to"] is None else float(tier["up_to"])
        if position < end and remaining > 0:
            take = min(remaining, end - max(position, start))
            cost += take * tier["price"]
            remaining -= take
            position += take
        start = end
    return cost


def status_note(entry: dict[str, Any], note: str) -> str:
    """The line's note, prefixed with UNCONFIRMED when the table says the figure is."""
    if entry.get("status") == "unconfirmed":
        return f"{UNCONFIRMED}: {note}" if note else UNCONFIRMED
    return note


def estimate(spec: Spec, usage: Usage | None = None, prices: dict[str, Any] | None = None) -> Estimate:
    """The monthly estimate for `spec` under `usage`, priced from the table (us-east-1 figures)."""
    usage = (usage or Usage()).check()
    table = prices if prices is not None else load_prices()
    p = table["prices"]
    hours = float(table["hours_per_month"])
    consumers = spec.consumers
    share = usage.gb_per_month / len(consumers) if consumers else 0.0
    lines: list[Line] = []

    def add(key: str, item: str, quantity: float, note: str = "", unit_price: float | None = None) -> None:
        entry = p[key]
        price = entry["price"] if unit_price is None else unit_price
        lines.append(
            Line(
                item,
                round(quantity, 4),
                entry["unit"],
                price,
                round(quantity * price, 2),
                status_note(entry, note),
            )
        )

    for consumer in consumers:
        azs = consumer.vpc.az_count
        add(
            "endpoint_az_hour",
            f"Interface endpoint ({consumer.name}, {consumer.region})",
            azs * hours,
            f"{azs} AZ x {hours:g} h; billed from creation whatever the connection state",
        )

    # Data processing tiers apply to each region's monthly total over all interface endpoints.
    by_region: dict[str, list[str]] = {}
    for consumer in consumers:
        by_region.setdefault(consumer.region, []).append(consumer.name)
    dp = p["endpoint_data_processing"]
    for region, names in by_region.items():
        gb = share * len(names)
        cost = tiered(gb, dp["tiers_gb"])
        unit_price = cost / gb if gb else dp["tiers_gb"][0]["price"]
        lines.append(
            Line(
                f"Endpoint data processing ({region})",
                round(gb, 4),
                dp["unit"],
                round(unit_price, 6),
                round(cost, 2),
                status_note(dp, f"{', '.join(names)}; tiered: first 1 PB, next 4 PB, above 5 PB"),
            )
        )

    add("nlb_hour", "Network Load Balancer (producer)", hours, f"1 NLB x {hours:g} h")
    dims = p["nlcu_dimensions"]
    gb_per_hour = usage.gb_per_month / hours
    per_dimension = {
        "new connections": usage.new_connections_per_second / dims["new_connections_per_second"],
        "active connections": usage.active_connections / dims["active_connections"],
        "processed bytes": gb_per_hour / dims["gb_per_hour"],
    }
    nlcu = max(per_dimension.values())
    driver = max(per_dimension, key=per_dimension.__getitem__)
    add(
        "nlb_nlcu_hour",
        "NLB capacity units (NLCU)",
        nlcu * hours,
        status_note(
            dims,
            f"{nlcu:.4f} NLCU/h set by {driver}; TCP NLCU = 800 new conn/s, 100,000 active conns, 1 GB/h",
        ),
    )

    for consumer in consumers:
        if consumer.vpn is None:
            continue
        subnets = consumer.vpc.az_count
        add(
            "client_vpn_association_hour",
            f"Client VPN associations ({consumer.name})",
            subnets * hours,
            f"{subnets} subnet association(s) x {hours:g} h",
        )
        add(
            "client_vpn_connection_hour",
            f"Client VPN connections ({consumer.name})",
            usage.vpn_users * usage.vpn_hours,
            f"{usage.vpn_users} user(s) x {usage.vpn_hours:g} h",
        )

    for consumer in consumers:
        if consumer.test_instance.enabled:
            add_test_instance(consumer, hours, add, p)

    add(
        "privatelink_cross_az_gb",
        "Cross-AZ transfer through PrivateLink",
        usage.gb_per_month,
        "not charged since April 2022 (EC2 inter-AZ elsewhere is 0.01/GB each way)",
    )

    remote = [c for c in consumers if spec.is_cross_region(c)]
    for consumer in remote:
        add(
            "inter_region_transfer_gb",
            f"Cross-region transfer ({spec.producer.region} <-> {consumer.region}, {consumer.name})",
            share,
            "consumer pays standard inter-region transfer; rate quoted out of us-east-1",
        )
    if spec.supported_regions:
        regions = spec.supported_regions
        add(
            "cross_region_provider_region_hour",
            "Cross-region PrivateLink provider fee",
            len(regions) * hours,
            f"producer pays per remote Region ({', '.join(regions)}) x {hours:g} h",
        )

    total = round(sum(line.monthly for line in lines), 2)
    assumptions = [
        f"{usage.gb_per_month:g} GB/month through the link, split evenly over {len(consumers)} consumer(s)",
        f"traffic spread evenly over {hours:g} h/month ({gb_per_hour:.4f} GB/h at the NLB)",
        f"{usage.new_connections_per_second:g} new connection(s)/s and {usage.active_connections} active "
        "connection(s) at the NLB",
        f"{usage.vpn_users} VPN user(s) per Client VPN, {usage.vpn_hours:g} connected h each",
        "the demo app's instances, CloudWatch Logs and Route 53 zones/queries are not included",
        f"all prices are {table['region']} rates whatever the spec's regions",
    ]
    if any(c.test_instance.enabled for c in consumers):
        assumptions.insert(
            -1,
            f"test instances run all month ({hours:g} h); Run Command and the few MB through their SSM "
            "endpoints cost nothing worth a line",
        )
    return Estimate(
        lines=lines,
        total=total,
        currency=table["currency"],
        region=table["region"],
        as_of=table["as_of"],
        check=table["check"],
        assumptions=assumptions,
    )


def add_test_instance(consumer: Consumer, hours: float, add: AddLine, p: dict[str, Any]) -> None:
    """The consumer's test instance, its root volume, and its three SSM interface endpoints."""
    settings = consumer.test_instance
    add(
        "ec2_instance_hour",
        f"Test instance ({consumer.name}, {settings.instance_type})",
        hours,
        f"1 instance x {hours:g} h, standard CPU credits; privlink test --via ssm",
        unit_price=p["ec2_instance_hour"]["by_type"][settings.instance_type],
    )
    add(
        "ebs_gp3_gb_month",
        f"Test instance root volume ({consumer.name})",
        TEST_ROOT_VOLUME_GB,
        f"{TEST_ROOT_VOLUME_GB} GB gp3, the Amazon Linux 2023 image's size",
    )
    if settings.ssm_endpoints:
        azs = consumer.vpc.az_count
        add(
            "endpoint_az_hour",
            f"SSM interface endpoints ({consumer.name}: ssm, ssmmessages, ec2messages)",
            3 * azs * hours,
            f"3 endpoints x {azs} AZ x {hours:g} h",
        )


def format_text(est: Estimate) -> str:
    """A table of the lines, the total, the price date, region and assumptions."""
    header = ("item", "quantity", "unit", "unit price", "monthly")
    rows = [
        (line.item, f"{line.quantity:,.2f}", line.unit, f"{line.unit_price:g}", f"{line.monthly:,.2f}")
        for line in est.lines
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        left = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        right = [row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        return "  ".join(left + right).rstrip()

    out = [
        f"Monthly estimate ({est.currency}), prices for {est.region} as of {est.as_of}",
        "",
        fmt(header),
    ]
    for line, row in zip(est.lines, rows, strict=True):
        out.append(fmt(row))
        if line.note:
            out.append(f"    {line.note}")
    out.append(fmt(("total", "", "", "", f"{est.total:,.2f}")))
    out.append("")
    out.append("Assumptions:")
    out.extend(f"  - {a}" for a in est.assumptions)
    out.append("")
    out.append(f"Prices are {est.region} figures as of {est.as_of}. {est.check}")
    return "\n".join(out)
