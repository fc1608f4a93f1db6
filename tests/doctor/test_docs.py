"""docs/findings.md is generated from the checks' declarations and kept current."""

from __future__ import annotations

import re
from pathlib import Path

from privlink.doctor import CHECKS
from privlink.doctor.docs import main, render

FINDINGS_MD = Path(__file__).parents[2] / "docs" / "findings.md"


def test_the_findings_doc_is_current():
    assert FINDINGS_MD.read_text() == render(), (
        "docs/findings.md is stale: run `python -m privlink.doctor.docs docs/findings.md`"
    )


def test_one_section_per_finding_id():
    assert re.findall(r"^## `(.+)`$", render(), flags=re.MULTILINE) == [
        "describe-failed",
        "not-deployed",
        "endpoint-missing",
        "connection-pending-acceptance",
        "connection-rejected",
        "principal-not-allowed",
        "endpoint-sg-blocks-clients",
        "targets-unhealthy",
        "targets-initial",
        "az-without-healthy-targets",
        "az-not-served",
        "vpc-dns-attributes",
        "private-dns-unverified",
        "private-name-unresolved",
        "vpn-cidr-overlap",
        "vpn-not-authorized",
        "vpn-missing",
        "listener-target-port-mismatch",
        "cross-region-not-supported",
        "nlb-idle-timeout",
        "check-skipped",
        "internal-error",
    ]


def test_every_kind_a_check_emits_says_what_it_means_and_how_to_confirm_it():
    for check in CHECKS:
        for kind in check.emits:
            assert kind.title and kind.explanation and kind.fixes, kind.id
            assert kind.confirm or kind.id == "check-skipped", kind.id


def test_a_section_shows_the_declaration():
    text = render()
    section = text[text.index("## `vpn-cidr-overlap`") : text.index("## `vpn-not-authorized`")]
    assert "- Severity: error\n- Emitted by the check `vpn-cidr-overlap`\n" in section
    assert "`consumer.vpc`, `consumer.vpn`" in section
    assert "```sh\naws ec2 describe-client-vpn-endpoints --client-vpn-endpoint-ids" in section
    assert section.endswith(
        "Fix:\n\n- change consumers[{consumer}].vpn.client_cidr to a range outside {vpc_cidr} and run "
        "`privlink up`: a client CIDR cannot change in place, so CloudFormation replaces the Client VPN "
        "endpoint, and clients need its new profile (`privlink vpn-config --consumer {consumer} --out "
        "{consumer}-new.ovpn`)\n\n"
    )


def test_the_module_writes_the_doc(tmp_path):
    assert main([str(tmp_path / "findings.md")]) == 0
    assert (tmp_path / "findings.md").read_text() == render()
