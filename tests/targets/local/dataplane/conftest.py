from __future__ import annotations

import pytest

from privlink.targets.local.dataplane.config_model import (
    DataPlaneConfig,
    allocate_loopback_block,
    eni_address,
    nlb_node_address,
    target_address,
)

PORT = 8443


def build_config(
    block: str,
    *,
    cross_zone: bool = True,
    proxy_protocol: bool = False,
    state: str = "available",
    sg_cidr: str = "10.1.0.0/16",
    running: dict[str, bool] | None = None,
    extra_targets: list[dict] | None = None,
    endpoints: list[dict] | None = None,
    health: dict | None = None,
) -> DataPlaneConfig:
    """Two AZs (use1-az1, use1-az2), a demo target and a node in each, one endpoint with an ENI per AZ."""
    running = running or {}
    targets = [
        {
            "id": "i-a",
            "az_name": "us-east-1a",
            "az_id": "use1-az1",
            "private_ip": "10.0.1.10",
            "kind": "demo",
            "address": f"{target_address(block, 0)}:0",
            "running": running.get("i-a", True),
        },
        {
            "id": "i-b",
            "az_name": "us-east-1b",
            "az_id": "use1-az2",
            "private_ip": "10.0.2.10",
            "kind": "demo",
            "address": f"{target_address(block, 1)}:0",
            "running": running.get("i-b", True),
        },
        *(extra_targets or []),
    ]
    endpoint = {
        "endpoint_id": "vpce-0aaaaaaaaaaaaaaa1",
        "consumer": "c1",
        "service_id": "vpce-svc-0bbbbbbbbbbbbbbb1",
        "state": state,
        "port": PORT,
        "load_balancer_id": "lb1",
        # consumer AZ names differ from the producer's: matching is by AZ ID
        "enis": [
            {
                "eni_id": "eni-a1",
                "subnet_id": "subnet-1",
                "az_name": "us-east-1c",
                "az_id": "use1-az1",
                "private_ip": "10.1.0.50",
                "bind_ip": eni_address(block, 0),
            },
            {
                "eni_id": "eni-b1",
                "subnet_id": "subnet-2",
                "az_name": "us-east-1d",
                "az_id": "use1-az2",
                "private_ip": "10.1.1.50",
                "bind_ip": eni_address(block, 1),
            },
        ],
        "security_group_rules": [{"protocol": "tcp", "from_port": PORT, "to_port": PORT, "cidr": sg_cidr}],
        "source": {"kind": "vpc", "ip": "10.1.0.10"},
    }
    data = {
        "loopback_block": block,
        "time_scale": 1.0,
        "grace_seconds": 0.5,
        "dns": {
            "zones": ["internal.example"],
            "aliases": [
                {"name": "api.internal.example", "endpoint_id": "vpce-0aaaaaaaaaaaaaaa1"},
                {
                    "name": "us-east-1a-vpce-0aaaaaaaaaaaaaaa1.vpce.test",
                    "endpoint_id": "vpce-0aaaaaaaaaaaaaaa1",
                    "az_name": "us-east-1c",
                },
            ],
            "records": [{"name": "static.internal.example", "values": ["127.0.0.9"]}],
        },
        "load_balancers": [
            {
                "id": "lb1",
                "arn": "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/lb1/0123",
                "listener_port": PORT,
                "target_port": 80,
                "cross_zone": cross_zone,
                "proxy_protocol": proxy_protocol,
                "health_check": health
                or {
                    "interval_seconds": 5,
                    "timeout_seconds": 2,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 2,
                },
                "nodes": [
                    {
                        "az_name": "us-east-1a",
                        "az_id": "use1-az1",
                        "private_ip": "10.0.1.5",
                        "bind_ip": nlb_node_address(block, 0),
                    },
                    {
                        "az_name": "us-east-1b",
                        "az_id": "use1-az2",
                        "private_ip": "10.0.2.5",
                        "bind_ip": nlb_node_address(block, 1),
                    },
                ],
                "targets": targets,
            }
        ],
        "endpoints": endpoints if endpoints is not None else [endpoint],
    }
    return DataPlaneConfig.model_validate(data)


@pytest.fixture
def block(tmp_path) -> str:
    return allocate_loopback_block(seed=str(tmp_path), ports=[PORT])


@pytest.fixture
def config_factory(block):
    def make(**kw) -> DataPlaneConfig:
        return build_config(block, **kw)

    return make
