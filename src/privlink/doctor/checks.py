"""The doctor's checks: each a pure function `(Observation) -> list[Finding]` with a stable id.

Checks only loop over the observation; they never call AWS or the sandbox. Every finding names the
concrete IDs and the fix (a privlink command or the spec key to change). A check never judges a part
of the observation that could not be read (`Observation.unknown`): the registry skips a check whose
declared parts are unknown, and a check with a finding that needs one more part asks `obs.known`
itself; both say so with a `check-skipped` info (`skipped`), which the registry folds into one
per subject.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from privlink.aws_error_codes import ACCESS_DENIED, THROTTLED
from privlink.doctor.findings import Finding, Skipped
from privlink.observe.model import (
    NLB_DEFAULT_IDLE_TIMEOUT,
    Consumer,
    Endpoint,
    IngressRule,
    LoadBalancer,
    Observation,
    ObserveError,
    consumer_part,
    producer_part,
)


def net(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return None


def covers(outer: str, inner: str) -> bool:
    a, b = net(outer), net(inner)
    return a is not None and b is not None and b.subnet_of(a)


def deployed_consumers(obs: Observation) -> Iterator[Consumer]:
    return (c for c in obs.consumers if c.deployed)


def with_endpoint(obs: Observation) -> Iterator[tuple[Consumer, Endpoint]]:
    for consumer in deployed_consumers(obs):
        if consumer.endpoint is not None:
            yield consumer, consumer.endpoint


def account_of(principal: str) -> str:
    parts = principal.split(":")
    return parts[4] if len(parts) > 5 else ""


def principal_allowed(principal: str, allowed: list[str]) -> bool:
    """An account root also allows that account's roles and users; `*` allows everyone."""
    if "*" in allowed or principal in allowed:
        return True
    account = account_of(principal)
    return any(a.endswith(":root") and account_of(a) == account for a in allowed)


# --- deployment and observation ----------------------------------------------------------------


def skipped(check: str, resource: str, parts: list[str]) -> Skipped:
    """The info that `check` did not judge `resource` because these parts could not be read
    (`run_checks` folds these into one per subject: `registry.summarise_skips`)."""
    return Skipped(
        "check-skipped",
        "info",
        resource,
        f"check {check} skipped for {resource}: {', '.join(parts)} unknown (a describe call failed)",
        "see the describe-failed warning: once that call is allowed, `privlink doctor` runs this check",
        check,
        tuple(parts),
    )


def describe_fix(e: ObserveError) -> str:
    """What to do about a failed call: the IAM action to grant when AWS denied it."""
    if not e.action:  # not an AWS call (the sandbox's data plane)
        return (
            "check the credentials of this account (accounts: in the spec) and the IAM permissions "
            f"for {e.call}; findings that need it are incomplete"
        )
    action = e.action
    account = f"account {e.account} (accounts.{e.account} in the spec)" if e.account else "this account"
    if e.code in ACCESS_DENIED:
        return (
            f"grant IAM permission {action} to the credentials of {account}, then run `privlink doctor` again"
        )
    if e.code in THROTTLED:
        return "AWS throttled the call; run `privlink doctor` again"
    return f"check the credentials of {account} and that they may call {action}"


def check_observe_errors(obs: Observation) -> list[Finding]:
    return [
        Finding(
            "describe-failed",
            "warning",
            e.side,
            f"{e.call} failed: {e.code} {e.message}".strip()
            + (f"; not judged: {', '.join(e.parts)}" if e.parts else ""),
            describe_fix(e),
        )
        for e in obs.errors
    ]


def check_not_deployed(obs: Observation) -> list[Finding]:
    found = []
    link = obs.expected.link
    if not obs.known(producer_part("stack")):
        found.append(skipped("not-deployed", "producer", [producer_part("stack")]))
    elif not obs.producer.deployed:
        found.append(
            Finding(
                "not-deployed",
                "error",
                f"privlink-{link}-producer",
                "the producer stack does not exist",
                "run `privlink up`",
            )
        )
    elif obs.producer.stack_status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
        found.append(
            Finding(
                "not-deployed",
                "error",
                f"privlink-{link}-producer",
                f"the producer stack is {obs.producer.stack_status}",
                "see `privlink status`, fix the cause, then run `privlink up`",
            )
        )
    for c in obs.consumers:
        if not c.deployed:
            found.append(
                Finding(
                    "not-deployed",
                    "error",
                    f"privlink-{link}-consumer-{c.name}",
                    f"the stack of consumer {c.name} does not exist",
                    "run `privlink up`",
                )
            )
    return found


def check_endpoint_missing(obs: Observation) -> list[Finding]:
    found = []
    service = obs.producer.service
    for c in deployed_consumers(obs):
        if c.endpoint is not None:
            continue
        evidence = f"consumer {c.name} (VPC {c.vpc_id or '?'}) has no interface endpoint"
        if c.endpoint_id_expected:
            evidence += f"; the stack output names {c.endpoint_id_expected}, which no longer exists"
        if c.stack_status:
            evidence += f"; stack {c.stack_status}"
        if c.endpoint_failure:
            evidence += f"; CloudFormation said: {c.endpoint_failure}"
        causes = []
        if (
            service is not None
            and c.principal
            and obs.known(producer_part("permissions"))
            and not principal_allowed(c.principal, service.allowed_principals)
        ):
            causes.append(
                f"{c.principal} is not an allowed principal of {service.id} (an unlisted "
                "principal gets InvalidServiceName)"
            )
        if (
            service is not None
            and obs.known(producer_part("service"))
            and c.region != obs.expected.producer_region
            and (c.region not in service.supported_regions)
        ):
            causes.append(f"{service.id} does not list {c.region} in SupportedRegions")
        if causes:
            continue  # principal-not-allowed / cross-region-not-supported name the root cause
        if "InvalidServiceName" in c.endpoint_failure and not causes:
            causes.append(
                "the service name is wrong, the principal is not allowed, or a cross-region "
                "endpoint lacks ServiceRegion"
            )
        if not causes:
            causes.append("it was deleted outside privlink or its creation failed")
        found.append(
            Finding(
                "endpoint-missing",
                "error",
                c.endpoint_id_expected or c.name,
                evidence + ". Likely cause: " + "; ".join(causes),
                "fix the cause (producer.endpoint_service.allowed_principals or "
                f"consumers[{c.name}].principal), then run `privlink up`",
            )
        )
    return found


# --- connections and permissions ---------------------------------------------------------------


def connection_states(obs: Observation) -> dict[str, tuple[str, str]]:
    """endpoint ID -> (state, who saw it): the producer's view, else the consumer endpoint's."""
    states = {c.endpoint_id: (c.state, f"owner {c.owner}") for c in obs.producer.connections}
    for consumer, endpoint in with_endpoint(obs):
        states.setdefault(endpoint.id, (endpoint.state, f"consumer {consumer.name}"))
    return states


def check_connection_pending(obs: Observation) -> list[Finding]:
    return [
        Finding(
            "connection-pending-acceptance",
            "error",
            endpoint_id,
            f"endpoint connection {endpoint_id} ({who}) is pendingAcceptance; no traffic flows until "
            "the producer accepts it",
            f"run `privlink connections accept {endpoint_id}` (or keep "
            "producer.endpoint_service.auto_accept: true and run `privlink up`)",
        )
        for endpoint_id, (state, who) in connection_states(obs).items()
        if state.lower() == "pendingacceptance"
    ]


def check_connection_rejected(obs: Observation) -> list[Finding]:
    return [
        Finding(
            "connection-rejected",
            "error",
            endpoint_id,
            f"endpoint connection {endpoint_id} ({who}) is rejected by the producer",
            f"if this consumer is wanted run `privlink connections accept {endpoint_id}`; if AWS refuses, "
            "delete the endpoint (`privlink down` for that consumer) and run `privlink up`",
        )
        for endpoint_id, (state, who) in connection_states(obs).items()
        if state.lower() == "rejected"
    ]


def check_principal_allowed(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None:
        return []
    principals = list(dict.fromkeys(obs.expected.consumer_principals + [c.principal for c in obs.consumers]))
    return [
        Finding(
            "principal-not-allowed",
            "error",
            service.id,
            f"{p} is not among the allowed principals of {service.id} "
            f"({', '.join(service.allowed_principals) or 'none'}); its endpoint gets InvalidServiceName",
            "run `privlink up` (it allows every declared consumer), or add it to "
            "producer.endpoint_service.allowed_principals",
        )
        for p in principals
        if p and not principal_allowed(p, service.allowed_principals)
    ]


# --- consumer network -------------------------------------------------------------------------


def rule_allows(rule: IngressRule, cidr: str, port: int) -> bool:
    protocol = rule.protocol.lower()
    if protocol not in ("tcp", "6", "-1", "all"):
        return False
    if (
        protocol not in ("-1", "all")
        and rule.from_port is not None
        and rule.to_port is not None
        and not (rule.from_port <= port <= rule.to_port)
    ):
        return False
    return any(covers(source, cidr) for source in rule.cidrs)


def check_endpoint_sg(obs: Observation) -> list[Finding]:
    found = []
    port = obs.expected.service_port
    for c, endpoint in with_endpoint(obs):
        groups = [g for g in (c.security_group(i) for i in endpoint.security_group_ids) if g is not None]
        if len(groups) < len(endpoint.security_group_ids):
            continue  # a group we could not read; describe-failed says so
        rules = [r for g in groups for r in g.ingress]
        for client in c.expected_clients:
            if not any(rule_allows(r, client, port) for r in rules):
                ids = ", ".join(endpoint.security_group_ids) or "none"
                found.append(
                    Finding(
                        "endpoint-sg-blocks-clients",
                        "error",
                        ",".join(endpoint.security_group_ids) or endpoint.id,
                        f"security groups {ids} of endpoint {endpoint.id} allow no TCP {port} from {client} "
                        f"(consumer {c.name}); ingress: {describe_rules(rules)}",
                        f"run `privlink up` to restore the endpoint SG rules, or add {client} to "
                        f"consumers[{c.name}].allowed_cidrs",
                    )
                )
    return found


def describe_rules(rules: list[IngressRule]) -> str:
    if not rules:
        return "none"
    return "; ".join(
        f"{r.protocol} {r.from_port}-{r.to_port} from "
        f"{','.join(r.cidrs + r.source_security_group_ids) or '-'}"
        for r in rules
    )


def check_vpc_dns_attributes(obs: Observation) -> list[Finding]:
    found = []
    for c in deployed_consumers(obs):
        needs_dns = c.expected_private_name is not None or (
            c.endpoint is not None and c.endpoint.private_dns_enabled
        )
        off = [
            name
            for name, value in (
                ("enableDnsSupport", c.enable_dns_support),
                ("enableDnsHostnames", c.enable_dns_hostnames),
            )
            if value is False
        ]
        if needs_dns and off:
            found.append(
                Finding(
                    "vpc-dns-attributes",
                    "error",
                    c.vpc_id,
                    f"VPC {c.vpc_id} of consumer {c.name} has {' and '.join(off)} off; private names do not "
                    "resolve there",
                    "run `privlink up` (the consumer stack turns both on) or "
                    f"`aws ec2 modify-vpc-attribute --vpc-id {c.vpc_id} --enable-dns-support` / "
                    "`--enable-dns-hostnames`",
                )
            )
    return found


def check_az_not_served(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None or not service.az_ids:
        return []
    found = []
    served = set(service.az_ids)
    for c in deployed_consumers(obs):
        if c.region != obs.expected.producer_region or not c.subnets:
            continue  # cross-region endpoints use the consumer region's own zones
        subnets = [s for s in c.subnets if c.endpoint is None or s.id in c.endpoint.subnet_ids] or c.subnets
        unserved = [s for s in subnets if s.az_id and s.az_id not in served]
        if not unserved:
            continue
        severity = "error" if len(unserved) == len(subnets) else "warning"
        listed = ", ".join(f"{s.id} ({s.az_name} = {s.az_id})" for s in unserved)
        found.append(
            Finding(
                "az-not-served",
                severity,
                ",".join(s.id for s in unserved),
                f"consumer {c.name} subnets {listed} are in AZ IDs that {service.id} does not publish "
                f"({', '.join(service.az_ids)}); AZ names differ between accounts, AZ IDs do not",
                f"place consumers[{c.name}].vpc subnets in {', '.join(service.az_ids)} "
                "(a new VPC does this by "
                "itself), or add producer subnets in those AZ IDs (producer.vpc.azs), then `privlink up`",
            )
        )
    return found


# --- producer load balancer -------------------------------------------------------------------


def load_balancer(obs: Observation) -> LoadBalancer | None:
    return obs.producer.load_balancer


def check_targets_unhealthy(obs: Observation) -> list[Finding]:
    lb = load_balancer(obs)
    if lb is None:
        return []
    found = []
    for group in lb.target_groups:
        if not group.targets:
            found.append(
                Finding(
                    "targets-unhealthy",
                    "error",
                    group.arn,
                    f"target group {group.arn} has no registered targets",
                    "set producer.service.app: demo or producer.service.targets, then `privlink up`",
                )
            )
            continue
        bad = [t for t in group.targets if t.state != "healthy"]
        if not bad or sends_to_wrong_port(group, obs.expected.target_port):
            continue  # nothing wrong, or listener-target-port-mismatch names the root cause
        if len(bad) < len(group.targets) and not lb.cross_zone:
            healthy_zones = {t.az_id or t.az for t in group.targets if t.state == "healthy"}
            if all((t.az_id or t.az) not in healthy_zones for t in bad):
                continue  # whole AZs down with cross-zone off: az-without-healthy-targets says so
        severity = "error" if len(bad) == len(group.targets) else "warning"
        listed = "; ".join(
            f"{t.id}:{t.port} in {t.az or '?'} is {t.state or '?'}"
            + (f" ({t.reason}: {t.description})" if t.reason else "")
            for t in bad
        )
        found.append(
            Finding(
                "targets-unhealthy",
                severity,
                ",".join(t.id for t in bad),
                f"{len(bad)} of {len(group.targets)} targets of {group.arn} are not healthy: {listed}",
                f"make the targets answer TCP on port {group.port} (the health check port "
                f"{group.health_check.port}) and allow the NLB subnets in their security group; "
                "check producer.service.targets / target_port",
            )
        )
    return found


def check_az_without_healthy_targets(obs: Observation) -> list[Finding]:
    lb = load_balancer(obs)
    if lb is None or lb.cross_zone:
        return []
    found = []
    for group in lb.target_groups:
        healthy_azs = {t.az for t in group.targets if t.state == "healthy"}
        if not healthy_azs or "all" in healthy_azs:
            continue  # targets-unhealthy covers a group with nothing healthy
        for az_name, az_id in zip(lb.az_names, lb.az_ids, strict=False):
            if az_name not in healthy_azs:
                found.append(
                    Finding(
                        "az-without-healthy-targets",
                        "error",
                        f"{lb.arn} {az_name}",
                        f"cross-zone load balancing is off on {lb.arn} and {az_name} ({az_id or '?'}) has no "
                        f"healthy target in {group.arn}; connections entering that AZ fail",
                        "set producer.service.cross_zone: true, or add a healthy target in that AZ, then "
                        "`privlink up`",
                    )
                )
    return found


def sends_to_wrong_port(group, target_port: int) -> bool:
    """The target group (or a registration) uses a port the service does not listen on."""
    wrong = [t for t in group.targets if t.port is not None and t.port != target_port]
    return group.port != target_port or bool(wrong)


def check_listener_target_ports(obs: Observation) -> list[Finding]:
    lb = load_balancer(obs)
    if lb is None:
        return []
    found = []
    want, target_port = obs.expected.service_port, obs.expected.target_port
    if lb.listeners and not any(listener.port == want for listener in lb.listeners):
        ports = ", ".join(str(listener.port) for listener in lb.listeners)
        found.append(
            Finding(
                "listener-target-port-mismatch",
                "error",
                lb.arn,
                f"{lb.arn} listens on {ports}, but clients call port {want} (producer.service.port)",
                "run `privlink up` to restore the listener, or change producer.service.port",
            )
        )
    groups = {g.arn: g for g in lb.target_groups}
    for listener in lb.listeners:
        for arn in listener.target_group_arns:
            group = groups.get(arn)
            if group is None:
                continue
            wrong = [t for t in group.targets if t.port is not None and t.port != target_port]
            if sends_to_wrong_port(group, target_port):
                seen = ", ".join(sorted({str(group.port)} | {f"{t.id}:{t.port}" for t in wrong}))
                found.append(
                    Finding(
                        "listener-target-port-mismatch",
                        "error",
                        arn,
                        f"listener {listener.port} forwards to {arn} on {seen}; the service listens on "
                        f"{target_port} (producer.service.target_port or port)",
                        "set producer.service.target_port to the port the targets listen on, "
                        "then `privlink up`",
                    )
                )
    return found


def check_nlb_idle_timeout(obs: Observation) -> list[Finding]:
    lb = load_balancer(obs)
    if lb is None:
        return []
    found = []
    for listener in lb.listeners:
        seconds = listener.idle_timeout or NLB_DEFAULT_IDLE_TIMEOUT
        source = "set on the listener" if listener.idle_timeout else "the NLB default"
        found.append(
            Finding(
                "nlb-idle-timeout",
                "info",
                listener.arn or lb.arn,
                f"TCP idle timeout of listener {listener.port} is {seconds} s ({source}); idle connections "
                "through the endpoint are dropped silently after it",
                f"send TCP or application keepalives more often than every {seconds} s, or set "
                "producer.service.idle_timeout (not with cross-region consumers)",
            )
        )
    return found


# --- private DNS ------------------------------------------------------------------------------


def check_private_dns_unverified(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None or not service.private_dns_name:
        return []
    config = service.private_dns_configuration
    state = config.state if config else "unknown"
    if state == "verified":
        return []
    uses = [c.name for c, e in with_endpoint(obs) if e.private_dns_enabled]
    txt = (
        f"a TXT record {config.name}.{service.private_dns_name} = {config.value}"
        if config
        else "the TXT record"
    )
    return [
        Finding(
            "private-dns-unverified",
            "error" if uses else "warning",
            service.id,
            f"private DNS name {service.private_dns_name} of {service.id} is {state}"
            + (f"; consumers {', '.join(uses)} rely on it" if uses else ""),
            f"publish {txt} in public DNS, then run `privlink up` (it starts the verification)",
        )
    ]


def norm(name: str | None) -> str:
    name = (name or "").rstrip(".").lower()
    return name.removeprefix("dualstack.")


def check_private_name(obs: Observation) -> list[Finding]:
    found = []
    service = obs.producer.service
    for c, endpoint in with_endpoint(obs):
        name = norm(c.expected_private_name)
        if not name:
            continue
        if (
            endpoint.private_dns_enabled
            and name == norm(obs.expected.private_dns_name)
            and not obs.known(producer_part("service"))
        ):
            # AWS may answer the service's private name from the endpoint: that needs the service
            found.append(skipped("private-name-unresolved", f"consumer:{c.name}", [producer_part("service")]))
            continue
        if endpoint.private_dns_enabled and service is not None and norm(service.private_dns_name) == name:
            continue  # AWS answers it from the endpoint's managed zone; private-dns-unverified covers it
        regional = norm(endpoint.regional_dns_name)
        names = {norm(d.dns_name) for d in endpoint.dns_entries}
        zones = [z for z in c.hosted_zones if name == norm(z.name) or name.endswith("." + norm(z.name))]
        records = [r for z in zones for r in z.records if norm(r.name) == name and r.type in ("A", "CNAME")]
        where = f"consumer {c.name} ({', '.join(z.id for z in zones) or 'no private hosted zone for it'})"
        if not records:
            found.append(
                Finding(
                    "private-name-unresolved",
                    "error",
                    zones[0].id if zones else c.vpc_id,
                    f"{name} has no A/CNAME record in {where}",
                    f"run `privlink up` to restore consumers[{c.name}].private_dns, or check its zone/record",
                )
            )
            continue
        record = records[0]
        pointed = record.alias_target or ",".join(record.values)
        targets = {norm(record.alias_target)} if record.alias_target else {norm(v) for v in record.values}
        if targets == {regional}:
            continue
        if record.type == "A" and not record.alias_target and targets <= set(endpoint.addresses.values()):
            continue
        zonal = bool(targets) and targets <= names
        found.append(
            Finding(
                "private-name-unresolved",
                "warning" if zonal else "error",
                f"{zones[0].id} {name}",
                f"{name} in {where} points to {pointed or 'nothing'}, "
                f"not to endpoint {endpoint.id}'s regional "
                f"name {regional}" + ("; a zonal name pins clients to one AZ" if zonal else ""),
                f"run `privlink up` to restore the alias record of consumers[{c.name}].private_dns",
            )
        )
    return found


# --- Client VPN -------------------------------------------------------------------------------


def check_vpn_cidr_overlap(obs: Observation) -> list[Finding]:
    found = []
    for c in deployed_consumers(obs):
        if c.vpn is None or not c.vpn.client_cidr:
            continue
        client, vpc = net(c.vpn.client_cidr), net(c.vpc_cidr)
        if client is not None and vpc is not None and client.overlaps(vpc):
            found.append(
                Finding(
                    "vpn-cidr-overlap",
                    "error",
                    c.vpn.id,
                    f"Client VPN {c.vpn.id} client CIDR {client} overlaps VPC {c.vpc_id} CIDR {vpc}",
                    f"change consumers[{c.name}].vpn.client_cidr to a range outside {vpc} "
                    "(it cannot be changed "
                    "in place: `privlink down` the VPN, then `privlink up`)",
                )
            )
    return found


def check_vpn_authorized(obs: Observation) -> list[Finding]:
    found = []
    for c in deployed_consumers(obs):
        if c.vpn_expected and c.vpn is None:
            found.append(
                Finding(
                    "vpn-missing",
                    "error",
                    f"privlink-{obs.expected.link}-vpn-{c.name}",
                    f"consumer {c.name} declares a Client VPN but none was found",
                    "run `privlink up`",
                )
            )
            continue
        if c.vpn is None:
            continue
        if not any(a.state in ("associated", "") for a in c.vpn.associations):
            found.append(
                Finding(
                    "vpn-not-authorized",
                    "error",
                    c.vpn.id,
                    f"Client VPN {c.vpn.id} has no associated subnet, so clients reach nothing",
                    "run `privlink up` to restore the subnet associations",
                )
            )
        destinations = [c.vpc_cidr] if c.vpc_cidr else []
        destinations += [ip for ip in (c.endpoint.addresses.values() if c.endpoint else [])]
        rules = [r for r in c.vpn.authorization_rules if r.state in ("active", "")]
        blocked = [d for d in destinations if not any(covers(r.destination_cidr, d) for r in rules)]
        if blocked:
            have = (
                ", ".join(f"{r.destination_cidr} ({r.state or '?'})" for r in c.vpn.authorization_rules)
                or "none"
            )
            found.append(
                Finding(
                    "vpn-not-authorized",
                    "error",
                    c.vpn.id,
                    f"Client VPN {c.vpn.id} authorizes no access to {', '.join(blocked)}; rules: {have}",
                    f"run `privlink up` to restore the authorization rule for {c.vpc_cidr or 'the VPC CIDR'}",
                )
            )
    return found


# --- cross-region -----------------------------------------------------------------------------


def check_cross_region(obs: Observation) -> list[Finding]:
    found = []
    service = obs.producer.service
    home = obs.expected.producer_region
    remote = [c for c in obs.consumers if c.region and home and c.region != home]
    regions_known = obs.known(producer_part("service"))
    if remote and not regions_known:
        found.append(skipped("cross-region-not-supported", "producer", [producer_part("service")]))
    for c in remote:
        if service is not None and regions_known and c.region not in service.supported_regions:
            found.append(
                Finding(
                    "cross-region-not-supported",
                    "error",
                    service.id,
                    f"consumer {c.name} is in {c.region} but {service.id} lists SupportedRegions "
                    f"{', '.join(service.supported_regions) or 'none'}",
                    "run `privlink up` (it lists every consumer region), or add it to "
                    "producer.endpoint_service.supported_regions",
                )
            )
        if not obs.known(consumer_part(c.name, "endpoint")):
            found.append(
                skipped(
                    "cross-region-not-supported", f"consumer:{c.name}", [consumer_part(c.name, "endpoint")]
                )
            )
        elif c.endpoint is not None and c.endpoint.service_region != home:
            found.append(
                Finding(
                    "cross-region-not-supported",
                    "error",
                    c.endpoint.id,
                    f"endpoint {c.endpoint.id} of consumer {c.name} has ServiceRegion "
                    f"{c.endpoint.service_region or 'unset'}, the service is in {home}",
                    "run `privlink up` to recreate the endpoint with ServiceRegion",
                )
            )
    lb = load_balancer(obs)
    if remote and lb is not None and not obs.known(producer_part("listeners")):
        found.append(skipped("cross-region-not-supported", "producer", [producer_part("listeners")]))
    elif remote and lb is not None:
        for listener in lb.listeners:
            if listener.idle_timeout is not None and listener.idle_timeout != NLB_DEFAULT_IDLE_TIMEOUT:
                found.append(
                    Finding(
                        "cross-region-not-supported",
                        "error",
                        listener.arn or lb.arn,
                        f"listener {listener.port} has a custom idle timeout ({listener.idle_timeout} s); "
                        "cross-region PrivateLink (consumers "
                        f"{', '.join(c.name for c in remote)}) does not work "
                        "with it",
                        "remove producer.service.idle_timeout, then `privlink up`",
                    )
                )
    return found
