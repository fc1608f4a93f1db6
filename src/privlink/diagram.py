"""A picture of the topology: accounts and VPCs as clusters, the PrivateLink hop highlighted.

Drawn with the `diagrams` package (AWS icons) and Graphviz's `dot`. `diagrams` writes files named
after the diagram into the current directory, so `draw` renders into a private temporary directory
and moves only the finished picture to `out`; SVG icons are inlined so the file stands alone.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from privlink.errors import BadInput, PrivlinkError
from privlink.spec.models import Spec
from privlink.templates import naming

FORMATS = ("png", "svg")
PRIVATELINK_COLOUR = "#E7157B"
CROSS_REGION_COLOUR = "#8C4FFF"


def output_format(out: Path) -> str:
    """`png` or `svg` from the file name, or BadInput."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BadInput(
            "--out", f"{out.name!r} has no .png or .svg extension", "name the file e.g. topology.png"
        )
    return fmt


def ids_from_status(status: dict[str, Any] | None) -> dict[str, Any]:
    """Deployed IDs from a status dict, as `{"producer": {Output: value}, "consumers": {name: {...}}}`.

    Reads stack outputs (the names in `privlink.templates.naming`) from `status["stacks"]`, a list
    or mapping of stacks with `name` and `outputs`; anything else gives no IDs.
    """
    ids: dict[str, Any] = {"producer": {}, "consumers": {}}
    if not isinstance(status, dict):
        return ids
    stacks = status.get("stacks")
    if isinstance(stacks, dict):
        stacks = [{"name": k, **v} if isinstance(v, dict) else {"name": k} for k, v in stacks.items()]
    for stack in stacks if isinstance(stacks, list) else []:
        if not isinstance(stack, dict) or not isinstance(stack.get("outputs"), dict):
            continue
        name = str(stack.get("name", ""))
        outputs = {str(k): str(v) for k, v in stack["outputs"].items()}
        if name.endswith("-producer"):
            ids["producer"].update(outputs)
            continue
        match = re.match(r"^privlink-.+?-(consumer|vpn)-(?P<consumer>[a-z][a-z0-9-]*)$", name)
        if match:
            ids["consumers"].setdefault(match["consumer"], {}).update(outputs)
    return ids


def draw(spec: Spec, out: Path, ids: dict[str, Any] | None = None) -> Path:
    """Render the topology of `spec` (with deployed `ids` when given) to `out` (.png or .svg)."""
    fmt = output_format(out)
    if not out.parent.exists():
        raise BadInput("--out", f"directory {str(out.parent)!r} does not exist", "create it first")
    if shutil.which("dot") is None:
        raise PrivlinkError(
            "diagram",
            "Graphviz's `dot` is not installed",
            "install Graphviz (e.g. apt-get install graphviz, brew install graphviz)",
        )
    ids = ids or {}
    with tempfile.TemporaryDirectory(prefix="privlink-diagram-") as tmp:
        base = Path(tmp) / "topology"
        build(spec, base, fmt, ids)
        rendered = base.with_suffix(f".{fmt}")
        if fmt == "svg":
            rendered.write_text(inline_images(rendered.read_text(encoding="utf-8")), encoding="utf-8")
        staged = out.with_name(f".{out.name}.tmp")
        shutil.move(str(rendered), staged)
        os.replace(staged, out)
    return out


def build(spec: Spec, base: Path, fmt: str, ids: dict[str, Any]) -> None:
    """Lay out the nodes with `diagrams`; renders `base.<fmt>` (and the dot source `base`)."""
    from diagrams import Cluster, Diagram, Edge
    from diagrams.aws.compute import EC2
    from diagrams.aws.general import Client, Users
    from diagrams.aws.integration import SimpleNotificationServiceSnsTopic
    from diagrams.aws.network import (
        ClientVpn,
        ElbNetworkLoadBalancer,
        Endpoint,
        Privatelink,
        Route53HostedZone,
    )

    producer = spec.producer
    p_ids = ids.get("producer", {}) if isinstance(ids.get("producer"), dict) else {}
    c_ids_all = ids.get("consumers", {}) if isinstance(ids.get("consumers"), dict) else {}
    service_name = p_ids.get(naming.OUT_SERVICE_NAME) or f"com.amazonaws.vpce.{producer.region}.vpce-svc-…"
    graph_attr = {"fontsize": "20", "pad": "0.4", "nodesep": "0.6", "ranksep": "1.2", "splines": "spline"}

    with Diagram(
        f"privlink: {spec.name}",
        filename=str(base),
        outformat=fmt,
        show=False,
        direction="RL",
        graph_attr=graph_attr,
    ):
        with (
            Cluster(f"producer account: {producer.account}\n{producer.region}"),
            Cluster(vpc_title(p_ids.get(naming.OUT_VPC_ID) or producer.vpc.id, producer.vpc.cidr)),
        ):
            cross_zone = "on" if producer.service.cross_zone else "off"
            nlb = ElbNetworkLoadBalancer(f"NLB :{producer.service.port}\ncross-zone {cross_zone}")
            targets = []
            if producer.service.app == "demo":
                for az in range(producer.vpc.az_count):
                    targets.append(EC2(f"demo app\nAZ {az + 1} :{producer.service.backend_port}"))
            for target in producer.service.targets:
                label = target.ip or target.instance or target.address or "target"
                targets.append(EC2(f"target\n{label}"))
            for target in targets:
                nlb >> Edge(color="#7B8894") >> target
            svc_id = p_ids.get(naming.OUT_SERVICE_ID) or "vpce-svc-…"
            acceptance = "acceptance required" if producer.endpoint_service.acceptance_required else ""
            service = Privatelink(f"endpoint service\n{svc_id}\n{acceptance}".rstrip())
            service >> Edge(color="#7B8894") >> nlb
            if producer.endpoint_service.notifications:
                topic = SimpleNotificationServiceSnsTopic("connection\nnotifications")
                service >> Edge(style="dashed", color="#7B8894") >> topic

        for consumer in spec.consumers:
            c_ids = c_ids_all.get(consumer.name, {}) if isinstance(c_ids_all, dict) else {}
            cross = spec.is_cross_region(consumer)
            with Cluster(f"consumer {consumer.name}: account {consumer.account}\n{consumer.region}"):
                with Cluster(vpc_title(c_ids.get(naming.OUT_VPC_ID) or consumer.vpc.id, consumer.vpc.cidr)):
                    endpoint_id = c_ids.get(naming.OUT_ENDPOINT_ID) or "vpce-…"
                    endpoint = Endpoint(
                        f"interface endpoint\n{consumer.name}: {endpoint_id}\n{consumer.vpc.az_count} AZ"
                    )
                    entry = endpoint
                    if consumer.private_dns is not None:
                        zone_id = c_ids.get(naming.OUT_HOSTED_ZONE_ID, "")
                        zone = Route53HostedZone(
                            f"private zone {consumer.private_dns.zone}\n{consumer.private_dns.fqdn}"
                            + (f"\n{zone_id}" if zone_id else "")
                        )
                        zone >> Edge(style="dashed", label="alias A", color="#7B8894") >> endpoint
                    if consumer.vpn is not None:
                        vpn_id = c_ids.get(naming.OUT_CLIENT_VPN_ENDPOINT_ID) or "cvpn-endpoint-…"
                        vpn = ClientVpn(f"Client VPN\n{vpn_id}\n{consumer.vpn.client_cidr}")
                        vpn >> Edge(color="#7B8894") >> endpoint
                        entry = vpn
                    else:
                        clients = Client(f"clients in {consumer.name} VPC")
                        clients >> Edge(color="#7B8894", style="dotted") >> entry
                if consumer.vpn is not None:
                    users = Users(f"VPN users ({consumer.name})")
                    users >> Edge(color="#7B8894") >> entry
            label = f"PrivateLink\n{service_name}"
            if cross:
                label += f"\ncross-region {consumer.region} -> {producer.region}"
            (
                endpoint
                >> Edge(
                    label=label,
                    color=CROSS_REGION_COLOUR if cross else PRIVATELINK_COLOUR,
                    fontcolor=CROSS_REGION_COLOUR if cross else PRIVATELINK_COLOUR,
                    style="bold",
                    penwidth="3",
                )
                >> service
            )


def vpc_title(vpc_id: str | None, cidr: str | None) -> str:
    return " ".join(x for x in ("VPC", vpc_id or ("(new)" if cidr else ""), cidr or "") if x)


def inline_images(svg: str) -> str:
    """Replace file references to icons in an SVG with data URIs so the file stands alone."""

    def embed(match: re.Match[str]) -> str:
        attr, path = match.group(1), match.group(2)
        file = Path(path)
        if not file.is_file():
            return match.group(0)
        mime = mimetypes.guess_type(file.name)[0] or "image/png"
        data = base64.b64encode(file.read_bytes()).decode("ascii")
        return f'{attr}="data:{mime};base64,{data}"'

    return re.sub(r'((?:xlink:)?href)="(/[^"]+\.(?:png|svg|jpg|jpeg))"', embed, svg)
