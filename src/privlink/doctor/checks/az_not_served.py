"""az-not-served: a same-region consumer's endpoint subnets are in AZ IDs the service publishes."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import deployed_consumers
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX = (
    "place consumers[{consumer}].vpc subnets in {az_ids} (a new VPC does this by itself), or add "
    "producer subnets in those AZ IDs (producer.vpc.azs), then `privlink up`"
)

AZ_NOT_SERVED = FindingKind(
    "az-not-served",
    ("error",),
    "Consumer subnets are in Availability Zones the endpoint service does not serve.",
    "An endpoint service is available only in the AZs of its Network Load Balancer, and an interface "
    "endpoint can only have network interfaces in those AZs. AZ names (`eu-central-1a`) map to "
    "different physical zones in different accounts; AZ IDs (`euc1-az2`) do not, so the doctor "
    "compares AZ IDs. Always an error: an endpoint cannot be created in an unserved subnet, and an "
    "endpoint address in one answers nothing, while the endpoint's regional name gives clients every "
    "address (the evidence names the failing ones). Cross-region consumers use their own region's "
    "zones and are not judged.",
    "aws ec2 describe-vpc-endpoint-service-configurations --service-ids <service id> "
    "--query 'ServiceConfigurations[0].AvailabilityZones'   # producer account\n"
    "aws ec2 describe-availability-zones --query 'AvailabilityZones[].[ZoneName,ZoneId]'   # each account\n"
    "aws ec2 describe-subnets --subnet-ids <subnet id> --query 'Subnets[].[SubnetId,AvailabilityZoneId]'",
    (FIX,),
)


def az_not_served(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None or not service.az_ids:
        return []
    found = []
    served = set(service.az_ids)
    for consumer in deployed_consumers(obs):
        if consumer.region != obs.expected.producer_region or not consumer.subnets:
            continue  # cross-region endpoints use the consumer region's own zones
        endpoint = consumer.endpoint
        subnets = [
            s for s in consumer.subnets if endpoint is None or s.id in endpoint.subnet_ids
        ] or consumer.subnets
        unserved = [s for s in subnets if s.az_id and s.az_id not in served]
        if not unserved:
            continue
        listed = ", ".join(f"{s.id} ({s.az_name} = {s.az_id})" for s in unserved)
        if endpoint is None:
            consequence = "an endpoint cannot be created in them"
        else:
            failing = [endpoint.addresses[s.id] for s in unserved if endpoint.addresses.get(s.id)]
            consequence = f"connections to endpoint {endpoint.id}" + (
                f" at {', '.join(failing)}" if failing else " there"
            )
            consequence += " fail (its regional name gives clients every address)"
        found.append(
            AZ_NOT_SERVED.finding(
                "error",
                ",".join(s.id for s in unserved),
                f"consumer {consumer.name} subnets {listed} are in AZ IDs that {service.id} does not publish "
                f"({', '.join(service.az_ids)}); AZ names differ between accounts, AZ IDs do not; "
                f"{consequence}",
                FIX.format(consumer=consumer.name, az_ids=", ".join(service.az_ids)),
            )
        )
    return found


CHECKS = (
    Check(
        "az-not-served",
        az_not_served,
        (AZ_NOT_SERVED,),
        ("producer.service", "consumer.subnets", "consumer.endpoint"),
    ),
)
