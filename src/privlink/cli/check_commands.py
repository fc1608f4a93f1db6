"""`privlink test` (the end-to-end probe) and `privlink doctor` (every check)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import typer

from privlink.cli.main import OutputFormat, emit_json, globals_of, stderr
from privlink.errors import BadInput, PrivlinkError


@runtime_checkable
class Checkable(Protocol):
    """What a target provides for `test` and `doctor`."""

    def observe(self) -> Any:  # -> privlink.observe.Observation
        """What is deployed, as an Observation (never raises for describe failures)."""

    def probe_plan(self, consumer: str) -> tuple[str | None, str, int]:
        """(DNS server 'HOST:PORT' or None for the system resolver, private name, service port)."""


@runtime_checkable
class SsmCapable(Protocol):
    """A target that can run the probe on an instance inside the consumer VPC (`test --via ssm`)."""

    def probe_ssm(
        self, consumer: str, name: str, port: int, instance: str | None = None
    ) -> Any:  # -> privlink.probe.ProbeReport
        """The probe's report from inside the consumer's VPC (on `instance` when named), its first
        step `ssm`."""


INSTANCE_ID = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})")


class Via(str, Enum):
    local = "local"
    ssm = "ssm"


def checkable(target: Any) -> Checkable:
    if not isinstance(target, Checkable):
        raise PrivlinkError(
            f"target {getattr(target, 'name', type(target).__name__)}",
            "does not support test/doctor yet",
            "use the other target (--target) or update privlink",
        )
    return target


def chosen_consumer(spec: Any, name: str | None) -> str:
    names = [c.name for c in spec.consumers]
    if not names:
        raise BadInput("consumers", "the spec declares no consumer to test from", "add one under consumers:")
    if name is None:
        return names[0]
    if name not in names:
        raise BadInput("--consumer", f"no consumer named {name!r}", f"use one of: {', '.join(names)}")
    return name


def test_command(
    ctx: typer.Context,
    consumer: str | None = typer.Option(
        None, "--consumer", help="The consumer to test from (default: the first)."
    ),
    via: Via = typer.Option(
        Via.local,
        "--via",
        help="local: from this machine; ssm: from an SSM-managed instance in the consumer VPC.",
    ),
    instance: str | None = typer.Option(
        None,
        "--instance",
        metavar="ID",
        help="With --via ssm: run on this SSM-managed instance in the consumer VPC instead of the "
        "test instance (it needs an ssm:SendCommand grant of yours: `privlink iam-policy` grants it on the "
        "test instance only).",
    ),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", help="text or json."),
) -> None:
    """Resolve the private name and call the service end to end (exit 1 when it fails)."""
    g = globals_of(ctx)
    check_instance(instance, via.value)
    spec = g.spec()
    name = chosen_consumer(spec, consumer)
    target = g.target_for(spec)
    report = run_test(target, spec, name, via.value, instance)
    if output is OutputFormat.json:
        emit_json(report.to_dict())
    else:
        print(render_probe(report, name))
        if not report.ok and report.failed_step == "ssm":
            # The probe never ran: doctor cannot tell why, the step's detail does.
            stderr(f"privlink: test failed at step ssm: {report.steps[0].detail}")
        elif not report.ok:
            stderr(
                f"privlink: test failed at step {report.failed_step}; run `privlink doctor` to find out why"
            )
    if not report.ok:
        raise typer.Exit(1)


def check_instance(instance: str | None, via: str) -> None:
    """`--instance` is an EC2 instance ID, and only `--via ssm` runs on one."""
    if instance is None:
        return
    if not INSTANCE_ID.fullmatch(instance):
        raise BadInput(
            "--instance", f"{instance!r} is not an EC2 instance ID", "give one like i-0123456789abcdef0"
        )
    if via != "ssm":
        raise BadInput(
            "--instance", "only --via ssm runs the probe on an instance", "add --via ssm, or drop --instance"
        )


def run_test(target: Any, spec: Any, consumer: str, via: str, instance: str | None = None):  # -> ProbeReport
    from privlink.probe import run_probe

    target = checkable(target)
    if via != "local" and not isinstance(target, SsmCapable):
        raise BadInput("--via", "ssm needs the aws target", "use --via local, or --target aws")
    dns_server, private_name, port = target.probe_plan(consumer)
    if via == "local":
        return run_probe(private_name, port, dns_server)
    return target.probe_ssm(consumer, private_name, port, instance)


def render_probe(report: Any, consumer: str) -> str:
    lines = [f"privlink test: {report.name}:{report.port} from consumer {consumer} (via {report.via})"]
    for step in report.steps:
        mark = "ok  " if step.ok else "FAIL"
        lines.append(f"  {mark} {step.name:<8} {step.ms:>8.1f} ms  {step.detail}")
    if report.ok:
        body = report.body.strip().replace("\n", " ")
        lines.append(f"  response: {body[:200]}{'...' if len(body) > 200 else ''}")
        lines.append("test passed")
    else:
        lines.append(f"test failed at step: {report.failed_step}")
    return "\n".join(lines)


def doctor_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", help="text or json."),
) -> None:
    """Run every check; findings with id, severity, resource, evidence and fix (exit 1 on errors, 3 when
    no error was found but some checks could not judge)."""
    from privlink.doctor import diagnose
    from privlink.doctor.report import render_text, to_json

    g = globals_of(ctx)
    target = checkable(g.target_for())
    observation = target.observe()
    diagnosis = diagnose(observation)
    if output is OutputFormat.json:
        emit_json(to_json(diagnosis, observation.target))
    else:
        sys.stdout.write(render_text(diagnosis, color=sys.stdout.isatty()))
    if diagnosis.exit_code:
        raise typer.Exit(diagnosis.exit_code)


def register(app: typer.Typer) -> None:
    command: Callable[..., Any] = app.command
    command("test")(test_command)
    command("doctor")(doctor_command)
