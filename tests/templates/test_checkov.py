"""Security scan: checkov over every rendered template of the main spec variants finds nothing that is
not suppressed in the template with a stated reason (privlink.templates.security.REASONS).

checkov pins boto3/botocore and other libraries below what privlink needs, so it lives in its own
venv, `.venv-checkov/` (made by `.ci/ensure-checkov`). Without it the tests skip, unless
PRIVLINK_REQUIRE_CHECKOV=1 (set by .ci/run), which turns the skip into a failure.

One checkov run covers every template plus a canary (a template with one suppression removed) that
must fail, so the scan is shown to be able to fail. checkov is kept offline: --skip-download,
--skip-results-upload, no update check, and any HTTP(S) it might still try goes to a proxy on
127.0.0.1:9 (discard), so it fails at once on loopback.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from spec_variants import variants

from privlink.templates.render import render_stacks, render_template_json
from privlink.templates.security import REASONS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["default", "cross-region", "two-consumers", "auto-approval", "fleet-ou", "test-instance"]
OFFLINE = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def checkov_path() -> str | None:
    venv = ROOT / ".venv-checkov" / ("Scripts" if sys.platform == "win32" else "bin") / "checkov"
    if venv.exists():
        return str(venv)
    return shutil.which("checkov")


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    checkov = checkov_path()
    if checkov is None:
        if os.environ.get("PRIVLINK_REQUIRE_CHECKOV") == "1":
            pytest.fail("checkov is missing; run .ci/ensure-checkov")
        pytest.skip("checkov is not installed; run .ci/ensure-checkov")
    root = tmp_path_factory.mktemp("checkov")
    specs = variants()
    resources = 0
    for name in SCANNED:
        for stack in render_stacks(specs[name]):
            path = root / f"{name}--{stack.stack_name}.json"
            path.write_text(render_template_json(stack), encoding="utf-8")
            resources += len(stack.template["Resources"])
    canary = copy.deepcopy(render_stacks(specs["default"])[0].template)
    del canary["Resources"]["LoadBalancer"]["Metadata"]
    (root / "canary").mkdir()
    (root / "canary" / "producer.json").write_text(json.dumps(canary, indent=2), encoding="utf-8")
    resources += len(canary["Resources"])
    done = subprocess.run(
        [checkov, "-d", str(root), "--framework", "cloudformation", "--compact", "-o", "json"]
        + ["--skip-download", "--skip-results-upload"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **OFFLINE},
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: some check failed (the canary)
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [r["check_type"] for r in reports] == ["cloudformation"]
    return reports[0], resources


def is_canary(check: dict) -> bool:
    return check["file_path"].startswith("/canary/")


def test_checkov_scanned_every_template(scan):
    report, resources = scan
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] == resources
    assert report["summary"]["passed"] > 0


def test_no_failed_checks(scan):
    report, _ = scan
    failed = [
        f"{c['file_path']} {c['resource']}: {c['check_id']} {c['check_name']}"
        for c in report["results"]["failed_checks"]
        if not is_canary(c)
    ]
    assert failed == []


def test_the_scan_can_fail(scan):
    report, _ = scan
    canary = {(c["resource"], c["check_id"]) for c in report["results"]["failed_checks"] if is_canary(c)}
    assert canary == {("AWS::ElasticLoadBalancingV2::LoadBalancer.LoadBalancer", "CKV_AWS_91")}


def test_every_suppression_states_its_reason(scan):
    report, _ = scan
    skipped = report["results"]["skipped_checks"]
    assert skipped
    for check in skipped:
        assert check["check_id"] in REASONS, check["check_id"]
        assert check["check_result"].get("suppress_comment") == REASONS[check["check_id"]]
    # no reason is kept for a check that no longer needs suppressing
    assert {c["check_id"] for c in skipped} == set(REASONS)
