"""privlink `up` on AWS, simulated: how long the lifecycle plan takes with AWS's typical latencies.

    python bench/aws_timeline.py [--spec demo|cross-region|three-consumers]

Runs `privlink --target aws up` against the fake AWS of the tests (tests/targets/aws/fake_aws.py,
the one fake both use) on a virtual clock (tests/targets/aws/virtual_clock.py): each change set
takes the expected time of its template (`privlink.lifecycle.latency`: the longest resource path
weighted by the issue's latency table), an accepted connection is pending for the acceptance
figure, targets turn healthy after their health checks, and the deployer's 5 s polls advance
virtual time only when every step in flight is waiting. Nothing leaves the machine: every AWS call
is answered by the fake.

Prints one JSON line per figure: per spec the simulated wall time of `up`, the plan's expected
time and critical path, and for the demo spec `aws.up.critical_path_ratio`, the simulated wall
time over the baseline of the seed demo's order (certificates, then the producer apply, then the
consumer apply with its endpoint and VPN chains in parallel: 945 s with the same table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "targets" / "aws"))

TARGET_RATIO = 0.78
ACCOUNTS = {"prod": "111111111111", "dev": "222222222222", "qa": "333333333333", "ops": "444444444444"}


def emit(figure: str, value, unit: str = "", **extra) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit, **extra}), flush=True)


def baseline_seconds() -> float:
    """The seed demo's order with the same table: certificates, then the producer apply (VPC, NLB,
    target group + listener, endpoint service in sequence), then the consumer apply, in which
    Terraform runs the endpoint chain and the VPN chain in parallel."""
    from privlink.lifecycle.latency import LATENCY, STEP_LATENCY

    def s(kind: str) -> float:
        return LATENCY[kind].seconds

    certificates = STEP_LATENCY["import-certificates"].seconds
    producer = (
        s("AWS::EC2::VPC")
        + s("AWS::ElasticLoadBalancingV2::LoadBalancer")
        + s("AWS::ElasticLoadBalancingV2::Listener")
        + s("AWS::EC2::VPCEndpointService")
    )
    endpoint = s("AWS::EC2::VPCEndpoint") + s("AWS::Route53::RecordSet")
    vpn = (
        s("AWS::EC2::ClientVpnEndpoint")
        + 2 * s("AWS::EC2::ClientVpnTargetNetworkAssociation")
        + s("AWS::EC2::ClientVpnAuthorizationRule")
    )
    return certificates + producer + s("AWS::EC2::VPC") + max(endpoint, vpn)


def spec_data(name: str) -> dict:
    import yaml

    from privlink.spec.demo import demo_spec_text

    data = yaml.safe_load(demo_spec_text(cross_region=name == "cross-region"))
    data["target"] = "aws"
    data["accounts"] = {label: {"profile": label, "account_id": ident} for label, ident in ACCOUNTS.items()}
    if name == "three-consumers":
        # three teams, each in its own account with a Client VPN; ops in another region
        others = (("qa", "eu-central-1", "10.30.0.0/16"), ("ops", "eu-west-2", "10.40.0.0/16"))
        for consumer, region, cidr in others:
            vpc = {"cidr": cidr, "azs": 2}
            data["consumers"].append(
                dict(data["consumers"][0], name=consumer, account=consumer, region=region, vpc=vpc)
            )
    return data


def simulate(name: str) -> dict:
    """Run `up` for one spec on the virtual clock: its simulated wall time and the plan's figures."""
    from fake_aws import FakeWorld
    from virtual_clock import VirtualClock

    from privlink.spec import validate_spec
    from privlink.targets.aws.target import AwsTarget

    spec = validate_spec(spec_data(name))
    clock = VirtualClock()
    world = FakeWorld(ACCOUNTS, clock=clock.now)
    with tempfile.TemporaryDirectory(prefix="privlink-timeline-") as tmp:
        target = AwsTarget(
            spec,
            Path(tmp) / ".privlink",
            session_factory=world.session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=5.0,
            hooks=clock,
        )
        plan, _facts = target.lifecycle()
        start = clock.now()
        report = target.up()
        wall = clock.now() - start
    states = [c["endpoint_state"] for c in report["consumers"]]
    if states != ["available"] * len(states):
        raise SystemExit(f"{name}: endpoints not available after up: {states}")
    return {
        "wall": wall,
        "expected": plan.expected_seconds(),
        "critical_path": [s.id for s in plan.critical_path()],
    }


def isolate_from_aws() -> None:
    """No credentials, profiles or metadata of this machine: the fake answers every call."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", choices=["demo", "cross-region", "three-consumers"], action="append")
    args = parser.parse_args(argv)
    isolate_from_aws()
    baseline = baseline_seconds()
    for name in args.spec or ["demo", "cross-region", "three-consumers"]:
        found = simulate(name)
        emit("aws.up.simulated_seconds", round(found["wall"], 1), "s", spec=name)
        emit(
            "aws.up.expected_seconds",
            round(found["expected"], 1),
            "s",
            spec=name,
            critical_path=found["critical_path"],
        )
        if name == "demo":
            emit(
                "aws.up.critical_path_ratio",
                round(found["wall"] / baseline, 3),
                spec=name,
                baseline_seconds=baseline,
                target=TARGET_RATIO,
                lower_bound=round(found["expected"] / baseline, 3),
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
