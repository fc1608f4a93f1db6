"""The report: JSON (`ok` only when doctor exits 0, the counts of checks judged and skipped) and the
text table's verdict line; the exit code per the contract (0 every check judged and no error, 1 an
error, 3 no error but some checks could not judge)."""

from __future__ import annotations

import json
from pathlib import Path

from privlink.doctor import diagnose
from privlink.doctor.report import render_text, to_json
from privlink.observe.model import Observation, ObserveError

CHECK_COUNT = 18


def load(name: str) -> Observation:
    path = Path(__file__).parent / "fixtures" / f"{name}.json"
    return Observation.model_validate(json.loads(path.read_text()))


def unreadable_producer() -> Observation:
    """No credentials: the producer stack could not be read, so nothing of the producer is known."""
    obs = load("healthy")
    parts = ["producer.stack", "producer.service", "producer.permissions", "producer.connections"]
    parts += ["producer.load_balancer", "producer.listeners", "producer.target_groups"]
    parts += ["producer.target_health", "producer.target_zones"]
    error = ObserveError(
        side="producer",
        call="cloudformation.describe_stacks",
        code="NoCredentialsError",
        message="Unable to locate credentials",
        action="cloudformation:DescribeStacks",
        account="prod",
        parts=parts,
    )
    return obs.model_copy(update={"errors": [error], "unknown": sorted(parts)})


def test_json_report_shape():
    diagnosis = diagnose(load("broken"))
    data = json.loads(json.dumps(to_json(diagnosis, "aws")))
    assert set(data) == {"schema", "ok", "exit_code", "target", "summary", "checks", "findings"}
    assert data["schema"] == "privlink/doctor/v1"
    assert data["ok"] is False and data["exit_code"] == 1 and data["target"] == "aws"
    assert data["summary"]["error"] == sum(1 for f in diagnosis.findings if f.severity == "error")
    # the idle timeout, and the check the fixture's failed ListHostedZonesByVPC left undone
    assert data["summary"]["info"] == 2
    assert data["checks"] == {"run": CHECK_COUNT, "judged": CHECK_COUNT - 1, "skipped": 1, "failed_reads": 1}
    for item in data["findings"]:
        assert set(item) == {"id", "severity", "resource", "evidence", "fix"}
        assert item["severity"] in ("error", "warning", "info")


def test_json_healthy_is_ok():
    data = to_json(diagnose(load("healthy")), "local")
    assert data["ok"] is True and data["exit_code"] == 0
    assert data["summary"] == {"error": 0, "warning": 0, "info": 1}
    assert data["checks"] == {"run": CHECK_COUNT, "judged": CHECK_COUNT, "skipped": 0, "failed_reads": 0}


def test_nothing_readable_is_not_a_pass():
    """`--target aws doctor` without credentials: no error found, but no check could judge the
    producer; exit 3 and `ok` false, not 0 and true."""
    diagnosis = diagnose(unreadable_producer())
    assert diagnosis.exit_code == 3
    data = to_json(diagnosis, "aws")
    assert data["ok"] is False and data["exit_code"] == 3
    assert data["summary"] == {"error": 0, "warning": 1, "info": 1}
    assert data["checks"] == {"run": CHECK_COUNT, "judged": 9, "skipped": 9, "failed_reads": 1}
    assert render_text(diagnosis, width=200).rstrip().splitlines()[-1] == (
        "doctor: no error found, but 9 of 18 checks could not judge everything (see check-skipped): "
        "0 error(s), 1 warning(s), 1 info; 9 of 18 checks judged"
    )


def test_a_failed_read_no_check_declares_is_not_a_pass_either():
    """A failed DescribeVpcAttribute leaves the attribute unread: vpc-dns-attributes judged less."""
    obs = load("healthy")
    error = ObserveError(side="consumer:dev", call="ec2.describe_vpc_attribute", code="Throttling")
    diagnosis = diagnose(obs.model_copy(update={"errors": [error]}))
    assert (diagnosis.exit_code, diagnosis.judged, diagnosis.skipped) == (3, CHECK_COUNT, ())
    assert render_text(diagnosis, width=200).rstrip().splitlines()[-1] == (
        "doctor: no error found, but 1 describe call(s) failed (see describe-failed): 0 error(s), "
        "1 warning(s), 1 info; 18 of 18 checks judged"
    )


def test_an_error_is_exit_1_whatever_could_not_be_judged():
    obs = unreadable_producer()
    dev = obs.consumers[0].model_copy(update={"vpc_cidr": "172.16.0.0/16"})  # the VPN's client CIDR
    assert diagnose(obs.model_copy(update={"consumers": [dev, *obs.consumers[1:]]})).exit_code == 1


def test_text_report_names_ids_and_fixes():
    text = render_text(diagnose(load("broken")), width=200)
    assert "connection-pending-acceptance" in text
    assert "vpce-0123456789abcdef0" in text
    assert "privlink connections accept" in text
    assert "\x1b[" not in text
    assert text.rstrip().splitlines()[-1].startswith("doctor: problems found:")


def test_text_report_when_healthy():
    text = render_text(diagnose(load("healthy")), width=200)
    assert text.rstrip().splitlines()[-1] == (
        "doctor: no problems found: 0 error(s), 0 warning(s), 1 info; 18 of 18 checks judged"
    )
