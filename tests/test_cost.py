"""`privlink cost`: the estimate's lines from the dated price table, and the command's output."""

from __future__ import annotations

import datetime
import json

import pytest

from privlink.cost import Usage, estimate, format_text, load_prices, tiered
from privlink.errors import BadInput
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink_testing import run_privlink as privlink


def by_item(est):
    return {line.item: line for line in est.lines}


def test_price_table_is_dated_us_east_1_with_a_status_per_figure():
    table = load_prices()
    assert table["region"] == "us-east-1"
    datetime.date.fromisoformat(table["as_of"])
    assert table["hours_per_month"] == 730
    for key, entry in table["prices"].items():
        assert entry["status"] in ("sourced", "unconfirmed"), key
        assert entry["source"], key
    unconfirmed = {k for k, e in table["prices"].items() if e["status"] == "unconfirmed"}
    assert unconfirmed == {
        "nlcu_dimensions",
        "client_vpn_association_hour",
        "client_vpn_connection_hour",
        "inter_region_transfer_gb",
        "cross_region_provider_region_hour",
        "ec2_instance_hour",
        "ebs_gp3_gb_month",
    }


def test_demo_estimate_line_by_line(demo_spec):
    est = estimate(demo_spec, Usage(gb_per_month=100, vpn_users=2, vpn_hours=160))
    lines = by_item(est)
    endpoint = lines["Interface endpoint (dev, eu-central-1)"]
    assert (endpoint.quantity, endpoint.unit, endpoint.unit_price, endpoint.monthly) == (
        1460,
        "AZ-hour",
        0.01,
        14.60,
    )
    assert lines["Endpoint data processing (eu-central-1)"].monthly == 1.00
    assert lines["Network Load Balancer (producer)"].monthly == round(730 * 0.0225, 2)
    assert lines["Client VPN associations (dev)"].quantity == 2 * 730
    assert lines["Client VPN associations (dev)"].monthly == 146.00
    assert lines["Client VPN connections (dev)"].quantity == 320
    assert lines["Client VPN connections (dev)"].monthly == 16.00
    cross_az = lines["Cross-AZ transfer through PrivateLink"]
    assert cross_az.monthly == 0 and "2022" in cross_az.note
    assert not any("Cross-region" in item for item in lines)
    assert est.total == round(sum(line.monthly for line in est.lines), 2)
    assert est.region == "us-east-1" and est.as_of == load_prices()["as_of"]


def test_unconfirmed_figures_say_so_in_the_note(cross_region_spec):
    lines = by_item(estimate(cross_region_spec))
    for item, line in lines.items():
        unconfirmed = item.startswith(("Client VPN", "Cross-region", "NLB capacity"))
        assert line.note.startswith("UNCONFIRMED") == unconfirmed, item


def test_cross_region_adds_transfer_and_provider_fee(cross_region_spec):
    est = estimate(cross_region_spec, Usage(gb_per_month=500))
    lines = by_item(est)
    transfer = lines["Cross-region transfer (us-east-1 <-> eu-west-2, dev)"]
    assert transfer.quantity == 500 and transfer.monthly == 10.00
    fee = lines["Cross-region PrivateLink provider fee"]
    assert fee.quantity == 730 and fee.monthly == 36.50 and "eu-west-2" in fee.note


def test_nlcu_follows_the_largest_dimension(demo_spec):
    bytes_bound = by_item(estimate(demo_spec, Usage(gb_per_month=7300)))["NLB capacity units (NLCU)"]
    assert bytes_bound.quantity == 7300  # 10 GB/h = 10 NLCU for 730 h
    assert "processed bytes" in bytes_bound.note
    conns = by_item(estimate(demo_spec, Usage(gb_per_month=0, new_connections_per_second=1600)))
    assert conns["NLB capacity units (NLCU)"].quantity == 2 * 730
    assert "new connections" in conns["NLB capacity units (NLCU)"].note


def test_data_processing_tiers():
    tiers = load_prices()["prices"]["endpoint_data_processing"]["tiers_gb"]
    pb = 1048576
    assert tiered(100, tiers) == pytest.approx(1.0)
    assert tiered(2 * pb, tiers) == pytest.approx(pb * 0.01 + pb * 0.006)
    assert tiered(6 * pb, tiers) == pytest.approx(pb * 0.01 + 4 * pb * 0.006 + pb * 0.004)
    assert tiered(pb, tiers, already=pb) == pytest.approx(pb * 0.006)


def test_two_consumers_split_traffic_and_pay_an_endpoint_each():
    text = demo_spec_text().replace(
        "accounts:",
        "  - name: qa\n    account: qa\n    region: eu-central-1\n    vpc: {cidr: 10.30.0.0/16, azs: 3}\n"
        "accounts:",
    )
    spec = parse_spec(text)
    lines = by_item(estimate(spec, Usage(gb_per_month=100)))
    assert lines["Interface endpoint (qa, eu-central-1)"].quantity == 3 * 730
    assert lines["Interface endpoint (dev, eu-central-1)"].quantity == 2 * 730
    assert lines["Endpoint data processing (eu-central-1)"].quantity == 100
    assert "Client VPN associations (qa)" not in lines  # qa has no VPN


def test_negative_usage_is_bad_input(demo_spec):
    with pytest.raises(BadInput) as err:
        estimate(demo_spec, Usage(gb_per_month=-1))
    assert err.value.where == "--gb-per-month"


def test_text_names_date_region_and_check(demo_spec):
    est = estimate(demo_spec)
    text = format_text(est)
    assert f"prices for us-east-1 as of {est.as_of}" in text
    assert "check" in text.lower()
    assert "UNCONFIRMED" in text
    assert text.count("\n") > len(est.lines)


@pytest.fixture
def spec_dir(tmp_path):
    assert privlink("init", "--cross-region", cwd=tmp_path).returncode == 0
    return tmp_path


def test_cli_json_shape(spec_dir):
    result = privlink(
        "cost",
        "--gb-per-month",
        "250",
        "--vpn-users",
        "3",
        "--vpn-hours",
        "10",
        "--output",
        "json",
        cwd=spec_dir,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["prices_region"] == "us-east-1"
    assert data["currency"] == "USD"
    datetime.date.fromisoformat(data["prices_as_of"])
    assert data["assumptions"] and data["check"]
    for line in data["lines"]:
        assert set(line) == {"item", "quantity", "unit", "unit_price", "monthly", "note"}
    assert data["total"] == pytest.approx(sum(line["monthly"] for line in data["lines"]), abs=0.01)
    vpn = next(line for line in data["lines"] if line["item"] == "Client VPN connections (dev)")
    assert vpn["quantity"] == 30


def test_cli_text(spec_dir):
    result = privlink("cost", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    assert "us-east-1" in result.stdout and "total" in result.stdout


def test_cli_bad_numbers_are_exit_2(spec_dir):
    for args in (["--gb-per-month", "-5"], ["--vpn-users", "many"], ["--vpn-hours", "1000"]):
        result = privlink("cost", *args, cwd=spec_dir)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


VPN_LINE = "    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n"


def with_test_instance(settings: str):
    return parse_spec(demo_spec_text().replace(VPN_LINE, VPN_LINE + f"    test_instance: {settings}\n"))


def test_every_test_instance_type_has_a_price():
    from privlink.spec.models import TEST_INSTANCE_TYPES

    assert set(load_prices()["prices"]["ec2_instance_hour"]["by_type"]) == set(TEST_INSTANCE_TYPES)


def test_test_instance_adds_the_instance_its_volume_and_three_endpoints(demo_spec):
    base = estimate(demo_spec)
    est = estimate(with_test_instance("{enabled: true}"))
    lines = by_item(est)
    instance = lines["Test instance (dev, t4g.nano)"]
    assert (instance.quantity, instance.unit, instance.unit_price, instance.monthly) == (
        730,
        "instance-hour",
        0.0042,
        3.07,
    )
    assert instance.note.startswith("UNCONFIRMED")
    volume = lines["Test instance root volume (dev)"]
    assert (volume.quantity, volume.unit, volume.monthly) == (8, "GB-month", 0.64)
    endpoints = lines["SSM interface endpoints (dev: ssm, ssmmessages, ec2messages)"]
    assert (endpoints.quantity, endpoints.unit, endpoints.monthly) == (3 * 2 * 730, "AZ-hour", 43.80)
    assert est.total == round(base.total + 3.07 + 0.64 + 43.80, 2)
    assert any("test instances run all month" in a for a in est.assumptions)
    assert not any("test instance" in a for a in base.assumptions)
    assert not any(item.startswith(("Test instance", "SSM")) for item in by_item(base))


def test_x86_test_instance_without_its_own_endpoints():
    lines = by_item(
        estimate(with_test_instance("{enabled: true, instance_type: t3.micro, ssm_endpoints: false}"))
    )
    assert lines["Test instance (dev, t3.micro)"].unit_price == 0.0104
    assert lines["Test instance (dev, t3.micro)"].monthly == round(730 * 0.0104, 2)
    assert not any(item.startswith("SSM interface endpoints") for item in lines)
