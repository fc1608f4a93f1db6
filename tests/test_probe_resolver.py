"""`privlink --target aws test` asks the consumer VPC's resolver, and falls back to the system's."""

from __future__ import annotations

from types import SimpleNamespace

from privlink.probe import ProbeFailed, run_probe


def refused(address, port, timeout):
    raise ConnectionRefusedError("refused")


def vpc_resolver_silent(name, timeout):
    raise ProbeFailed("10.10.0.2 timed out")


def test_the_system_resolver_answers_when_the_vpc_resolver_does_not_and_the_step_says_so():
    report = run_probe(
        "hello.internal.company",
        8080,
        "10.10.0.2",
        resolver=vpc_resolver_silent,
        fallback=lambda name, timeout: ["10.10.1.5"],
        connector=refused,
    )
    resolve = report.steps[0]
    assert resolve.ok
    assert resolve.detail == (
        "hello.internal.company -> 10.10.1.5 (via the system resolver: 10.10.0.2 did not answer: "
        "10.10.0.2 timed out)"
    )


def test_when_neither_answers_the_step_points_at_the_vpn():
    def system(name, timeout):
        raise ProbeFailed(f"the system resolver cannot resolve {name}: Name or service not known")

    report = run_probe(
        "hello.internal.company", 8080, "10.10.0.2", resolver=vpc_resolver_silent, fallback=system
    )
    assert report.failed_step == "resolve"
    assert "is the VPN connected? its routes reach 10.10.0.2" in report.steps[0].detail


def test_without_a_fallback_the_resolver_failure_is_the_step():
    report = run_probe("hello.internal.company", 8080, "10.10.0.2", resolver=vpc_resolver_silent)
    assert report.failed_step == "resolve" and "system resolver" not in report.steps[0].detail


def test_the_cli_gives_the_aws_target_the_system_resolver_as_fallback(monkeypatch):
    from privlink import probe
    from privlink.cli import check_commands

    seen = {}
    report = SimpleNamespace(failed_step=None)

    def fake_probe(name, port, dns_server, **kwargs):
        seen.update(kwargs, dns_server=dns_server)
        return report

    class AwsLike:
        resolver_falls_back = True

        def probe_plan(self, consumer):
            return "10.10.0.2", ["hello.internal.company"], 8080

        def observe(self):
            raise AssertionError("not called")

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(check_commands, "checkable", lambda target: target)
    run = check_commands.run_tests(AwsLike(), ["dev"], "local")
    assert run.probes == [("dev", report)]
    assert seen == {"dns_server": "10.10.0.2", "fallback": probe.system_resolver}
    AwsLike.resolver_falls_back = False  # the sandbox's resolver always answers: no fallback
    check_commands.run_tests(AwsLike(), ["dev"], "local")
    assert seen["fallback"] is None
