"""cross-region-not-supported: consumers in another region than the service are supported by it:
their region listed, their endpoint made with ServiceRegion, and no custom NLB idle timeout."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.doctor.skips import CHECK_SKIPPED, skipped
from privlink.observe.model import NLB_DEFAULT_IDLE_TIMEOUT, Observation, consumer_part, producer_part

FIX_REGION_NOT_LISTED = (
    "run `privlink up` (it lists every consumer region), or add it to "
    "producer.endpoint_service.supported_regions; a region removed outside CloudFormation `privlink up` "
    "does not restore: `aws ec2 modify-vpc-endpoint-service-configuration --service-id {service_id} "
    "--add-supported-regions {region}`"
)
FIX_SERVICE_REGION = "run `privlink up` to recreate the endpoint with ServiceRegion"
FIX_IDLE_TIMEOUT = "remove producer.service.idle_timeout, then `privlink up`"

CROSS_REGION_NOT_SUPPORTED = FindingKind(
    "cross-region-not-supported",
    ("error",),
    "A consumer in another region than the service is not set up for cross-region PrivateLink.",
    "A consumer in another region reaches the service only when the endpoint service lists that "
    "region in its SupportedRegions and the consumer's interface endpoint names the service's region "
    "(`ServiceRegion`); otherwise creating the endpoint fails with `InvalidServiceName`, or the "
    "endpoint connects to nothing. Cross-region PrivateLink also does not work with a custom TCP idle "
    "timeout on the NLB listener. The evidence says which of the three was found.",
    "aws ec2 describe-vpc-endpoint-service-configurations --service-ids <service id> "
    "--query 'ServiceConfigurations[0].SupportedRegions'\n"
    "aws ec2 describe-vpc-endpoints --region <consumer region> --vpc-endpoint-ids <endpoint id> "
    "--query 'VpcEndpoints[0].ServiceRegion'\n"
    "aws elbv2 describe-listener-attributes --listener-arn <listener arn> "
    "--query \"Attributes[?Key=='tcp.idle_timeout.seconds']\"",
    (FIX_REGION_NOT_LISTED, FIX_SERVICE_REGION, FIX_IDLE_TIMEOUT),
)


def cross_region_not_supported(obs: Observation) -> list[Finding]:
    """Judges the service, each remote endpoint and the listeners when each is known (it declares no
    needs: it skips what it cannot read itself)."""
    found: list[Finding] = []
    service = obs.producer.service
    home = obs.expected.producer_region
    remote = [consumer for consumer in obs.consumers if consumer.region and home and consumer.region != home]
    regions_known = obs.known(producer_part("service"))
    if remote and not regions_known:
        found.append(skipped("cross-region-not-supported", "producer", [producer_part("service")]))
    for consumer in remote:
        if service is not None and regions_known and consumer.region not in service.supported_regions:
            found.append(
                CROSS_REGION_NOT_SUPPORTED.finding(
                    "error",
                    service.id,
                    f"consumer {consumer.name} is in {consumer.region} but {service.id} lists "
                    f"SupportedRegions {', '.join(service.supported_regions) or 'none'}",
                    FIX_REGION_NOT_LISTED.format(service_id=service.id, region=consumer.region),
                )
            )
        endpoint_part = consumer_part(consumer.name, "endpoint")
        if not obs.known(endpoint_part):
            found.append(skipped("cross-region-not-supported", f"consumer:{consumer.name}", [endpoint_part]))
        elif consumer.endpoint is not None and consumer.endpoint.service_region != home:
            found.append(
                CROSS_REGION_NOT_SUPPORTED.finding(
                    "error",
                    consumer.endpoint.id,
                    f"endpoint {consumer.endpoint.id} of consumer {consumer.name} has ServiceRegion "
                    f"{consumer.endpoint.service_region or 'unset'}, the service is in {home}",
                    FIX_SERVICE_REGION,
                )
            )
    balancer = obs.producer.load_balancer
    if remote and balancer is not None and not obs.known(producer_part("listeners")):
        found.append(skipped("cross-region-not-supported", "producer", [producer_part("listeners")]))
    elif remote and balancer is not None:
        for listener in balancer.listeners:
            if listener.idle_timeout is not None and listener.idle_timeout != NLB_DEFAULT_IDLE_TIMEOUT:
                found.append(
                    CROSS_REGION_NOT_SUPPORTED.finding(
                        "error",
                        listener.arn or balancer.arn,
                        f"listener {listener.port} has a custom idle timeout ({listener.idle_timeout} s); "
                        "cross-region PrivateLink (consumers "
                        f"{', '.join(consumer.name for consumer in remote)}) does not work "
                        "with it",
                        FIX_IDLE_TIMEOUT,
                    )
                )
    return found


CHECKS = (
    Check(
        "cross-region-not-supported",
        cross_region_not_supported,
        (CROSS_REGION_NOT_SUPPORTED, CHECK_SKIPPED),
    ),
)
