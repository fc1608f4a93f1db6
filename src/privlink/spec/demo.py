"""The demo topology `privlink init` writes (see the reference demo-topology)."""

from __future__ import annotations

SAME_REGION = """\
# privlink spec: one producer publishes a service over PrivateLink to its consumers.
name: hello
target: local                      # local | aws ; --target overrides
producer:
  account: prod                    # a label; `accounts` maps it to credentials for the aws target
  region: {producer_region}
  vpc: {{cidr: 10.20.0.0/16, azs: 2}}
  service:
    port: 8080
    app: demo                      # demo = built-in hello app, one target per AZ
    targets: []
    health_check: {{interval: 10, healthy_threshold: 3, unhealthy_threshold: 3}}
    cross_zone: true
    proxy_protocol: false
  endpoint_service:
    acceptance_required: true
    auto_accept: true              # `up` accepts pending connections from the declared consumers
    allowed_principals: []         # extra ARNs; each consumer is added
    private_dns_name: null
consumers:
  - name: dev
    account: dev
    region: {consumer_region}
    vpc: {{cidr: 10.10.0.0/16, azs: 2}}
    allowed_cidrs: []
    private_dns: {{zone: internal.company, record: hello}}
    vpn: {{client_cidr: 172.16.0.0/22, split_tunnel: true}}
    # test_instance: {{enabled: true, instance_type: t4g.nano}}   # aws: an instance for `test --via ssm`
accounts:                          # aws target only
  prod: {{profile: prod}}
  dev: {{profile: dev}}
"""


def demo_spec_text(cross_region: bool = False) -> str:
    """The YAML `privlink init` writes: eu-central-1 on both sides, or us-east-1 -> eu-west-2."""
    if cross_region:
        return SAME_REGION.format(producer_region="us-east-1", consumer_region="eu-west-2")
    return SAME_REGION.format(producer_region="eu-central-1", consumer_region="eu-central-1")
