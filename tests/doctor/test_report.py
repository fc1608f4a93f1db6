from __future__ import annotations

import json
from pathlib import Path

from privlink.doctor import run_checks
from privlink.doctor.report import render_text, to_json
from privlink.observe.model import Observation


def load(name: str) -> Observation:
    path = Path(__file__).parent / "fixtures" / f"{name}.json"
    return Observation.model_validate(json.loads(path.read_text()))


def test_json_report_shape():
    findings = run_checks(load("broken"))
    data = json.loads(json.dumps(to_json(findings, "aws")))
    assert set(data) == {"ok", "target", "summary", "findings"}
    assert data["ok"] is False and data["target"] == "aws"
    assert data["summary"]["error"] == sum(1 for f in findings if f.severity == "error")
    # the idle timeout, and the check the fixture's failed ListHostedZonesByVPC left undone
    assert data["summary"]["info"] == 2
    for item in data["findings"]:
        assert set(item) == {"id", "severity", "resource", "evidence", "fix"}
        assert item["severity"] in ("error", "warning", "info")


def test_json_healthy_is_ok():
    data = to_json(run_checks(load("healthy")), "local")
    assert data["ok"] is True and data["summary"] == {"error": 0, "warning": 0, "info": 1}


def test_text_report_names_ids_and_fixes():
    text = render_text(run_checks(load("broken")), width=200)
    assert "connection-pending-acceptance" in text
    assert "vpce-0123456789abcdef0" in text
    assert "privlink connections accept" in text
    assert "\x1b[" not in text
    assert text.rstrip().splitlines()[-1].startswith("doctor: problems found:")


def test_text_report_when_healthy():
    text = render_text([], width=120)
    assert text.strip() == "doctor: no problems found: 0 error(s), 0 warning(s), 0 info"
