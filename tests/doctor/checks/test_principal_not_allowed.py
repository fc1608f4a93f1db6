"""principal-not-allowed: the service allows each declared consumer's principal; an account root
allows its roles and users, `*` everyone."""

from __future__ import annotations

from privlink.doctor.findings import Finding

PATH = "producer/service/allowed_principals"


def not_allowed(principal: str, allowed: str) -> Finding:
    return Finding(
        "principal-not-allowed",
        "error",
        "vpce-svc-0a1b2c3d4e5f60718",
        f"{principal} is not among the allowed principals of vpce-svc-0a1b2c3d4e5f60718 ({allowed}); its "
        "endpoint gets InvalidServiceName",
        "run `privlink up` (it allows every consumer of the spec), or add it to "
        "producer.endpoint_service.allowed_principals; a principal removed outside CloudFormation "
        "`privlink up` does not restore: `aws ec2 modify-vpc-endpoint-service-permissions --service-id "
        f"vpce-svc-0a1b2c3d4e5f60718 --add-allowed-principals {principal}`",
    )


def test_healthy(run_check):
    assert run_check("principal-not-allowed") == []


def test_a_declared_consumer_not_allowed(run_check):
    assert run_check("principal-not-allowed", {PATH: ["arn:aws:iam::222222222222:root"]}) == [
        not_allowed("arn:aws:iam::333333333333:root", "arn:aws:iam::222222222222:root")
    ]


def test_none_allowed(run_check):
    assert run_check("principal-not-allowed", {PATH: []}) == [
        not_allowed("arn:aws:iam::222222222222:root", "none"),
        not_allowed("arn:aws:iam::333333333333:root", "none"),
    ]


def test_a_role_is_allowed_by_its_account_root(run_check):
    assert (
        run_check("principal-not-allowed", {"consumers/dev/principal": "arn:aws:iam::222222222222:role/app"})
        == []
    )


def test_a_role_is_not_allowed_by_another_role_of_its_account(run_check):
    allowed = ["arn:aws:iam::222222222222:role/other", "arn:aws:iam::333333333333:root"]
    patch = {"consumers/dev/principal": "arn:aws:iam::222222222222:role/app", PATH: allowed}
    listed = "arn:aws:iam::222222222222:role/other, arn:aws:iam::333333333333:root"
    assert run_check("principal-not-allowed", patch) == [
        not_allowed("arn:aws:iam::222222222222:root", listed),  # the spec's expectation
        not_allowed("arn:aws:iam::222222222222:role/app", listed),  # the consumer's own
    ]


def test_a_star_allows_everyone(run_check):
    patch = {PATH: ["*"], "consumers/dev/principal": "arn:aws:iam::999999999999:root"}
    assert run_check("principal-not-allowed", patch) == []
