"""`privlink test` (the end-to-end probe) and `privlink doctor` (every check)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
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

    def probe_plan(self, consumer: str) -> tuple[str | None, list[str], int]:
        """(DNS server 'HOST:PORT' or None for the system resolver, every name the consumer's
        clients resolve, service port)."""


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


def chosen_consumers(spec: Any, name: str | None) -> list[str]:
    """The consumers `test` probes from: `--consumer NAME`, else every one."""
    names = [c.name for c in spec.consumers]
    if not names:
        raise BadInput("consumers", "the spec declares no consumer to test from", "add one under consumers:")
    if name is None:
        return names
    if name not in names:
        raise BadInput("--consumer", f"no consumer named {name!r}", f"use one of: {', '.join(names)}")
    return [name]


@dataclass
class ProbeRun:
    """Every probe of one `privlink test`: (consumer, its report) per name the consumer uses."""

    probes: list[tuple[str, Any]] = field(default_factory=list)  # (consumer, ProbeReport)

    @property
    def ok(self) -> bool:
        return bool(self.probes) and all(report.ok for _, report in self.probes)

    @property
    def failed(self) -> list[tuple[str, Any]]:
        return [(consumer, report) for consumer, report in self.probes if not report.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "privlink/test/v1",
            "ok": self.ok,
            "failed": [
                {"consumer": consumer, "name": report.name, "step": report.failed_step}
                for consumer, report in self.failed
            ],
            "probes": [{"consumer": consumer, **report.to_dict()} for consumer, report in self.probes],
        }


def test_command(
    ctx: typer.Context,
    consumer: str | None = typer.Option(
        None, "--consumer", help="The consumer to test from (default: every consumer)."
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
    """Resolve every name each consumer is meant to use and call the service end to end (exit 1 when
    any fails)."""
    g = globals_of(ctx)
    check_instance(instance, via.value)
    spec = g.spec()
    names = chosen_consumers(spec, consumer)
    if instance is not None and len(names) > 1:
        raise BadInput(
            "--instance", "an instance sits in one consumer's VPC", "name that consumer with --consumer"
        )
    target = g.target_for(spec)
    run = run_tests(target, names, via.value, instance)
    if output is OutputFormat.json:
        emit_json(run.to_dict())
    else:
        print("\n".join(render_probe(report, name) for name, report in run.probes))
        if len(run.probes) > 1:
            print(render_summary(run))
    for line in failure_lines(run):
        stderr(line)
    if not run.ok:
        raise typer.Exit(1)


def failure_lines(run: ProbeRun) -> list[str]:
    """The stderr lines of a failed run: a probe that never ran says why (its `ssm` step); the rest
    point to doctor."""
    lines = []
    single = len(run.probes) == 1
    for consumer, report in run.failed:
        if report.failed_step == "ssm":  # the probe never ran: doctor cannot tell why, the step can
            where = "" if single else f" (consumer {consumer}, {report.name})"
            lines.append(f"privlink: test failed at step ssm{where}: {report.steps[0].detail}")
    others = [(consumer, report) for consumer, report in run.failed if report.failed_step != "ssm"]
    if others:
        at = (
            f"step {others[0][1].failed_step}"
            if single
            else "; ".join(f"step {r.failed_step} (consumer {c}, {r.name})" for c, r in others)
        )
        lines.append(f"privlink: test failed at {at}; run `privlink doctor` to find out why")
    return lines


def render_summary(run: ProbeRun) -> str:
    consumers = len(dict.fromkeys(consumer for consumer, _ in run.probes))
    if run.ok:
        return f"test passed: {len(run.probes)} names from {consumers} consumer(s)"
    failed = "; ".join(f"{consumer} {report.name} at {report.failed_step}" for consumer, report in run.failed)
    return f"test failed for {len(run.failed)} of {len(run.probes)} names: {failed}"


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


def run_tests(target: Any, consumers: list[str], via: str, instance: str | None = None) -> ProbeRun:
    """Probe every name each consumer uses; over SSM, a consumer whose instance could not run the
    probe (its `ssm` step failed) is not asked again for its other names."""
    from privlink.probe import run_probe

    target = checkable(target)
    if via != "local" and not isinstance(target, SsmCapable):
        raise BadInput("--via", "ssm needs the aws target", "use --via local, or --target aws")
    run = ProbeRun()
    fallback = None
    if via == "local" and getattr(target, "resolver_falls_back", False):
        from privlink.probe import system_resolver

        fallback = system_resolver
    for consumer in consumers:
        dns_server, names, port = target.probe_plan(consumer)
        for name in names:
            if via == "local":
                report = run_probe(name, port, dns_server, fallback=fallback)
            else:
                report = target.probe_ssm(consumer, name, port, instance)
            run.probes.append((consumer, report))
            if report.failed_step == "ssm":
                break
    return run


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
