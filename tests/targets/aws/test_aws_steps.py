from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY
from moto import mock_aws

from privlink.certs import ensure_certificates
from privlink.errors import DeployFailed
from privlink.ovpn import check_config
from privlink.targets.aws import steps
from privlink.targets.aws.gateway import ClientProxy

SERVICE_ID = "vpce-svc-0a1b2c3d4e5f60718"
PRODUCER, DEV, STRANGER = "111111111111", "222222222222", "333333333333"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CONN_FILTER = {"Filters": [{"Name": "service-id", "Values": [SERVICE_ID]}]}


def conn(endpoint_id, owner, state, region="eu-central-1"):
    return {
        "ServiceId": SERVICE_ID,
        "VpcEndpointId": endpoint_id,
        "VpcEndpointOwner": owner,
        "VpcEndpointState": state,
        "CreationTimestamp": NOW,
        "VpcEndpointRegion": region,
        "DnsEntries": [
            {
                "DnsName": f"{endpoint_id}-abcd1234.{SERVICE_ID}.eu-central-1.vpce.amazonaws.com",
                "HostedZoneId": "Z273ZU8SZ5RJPC",
            }
        ],
        "NetworkLoadBalancerArns": [
            "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
        ],
        "IpAddressType": "ipv4",
    }


def test_only_pending_connections_of_declared_consumers_are_accepted():
    found = [
        steps.connection_of(conn("vpce-0aaaaaaaaaaaaaaa1", DEV, "pendingAcceptance"), {}),
        steps.connection_of(conn("vpce-0aaaaaaaaaaaaaaa2", STRANGER, "pendingAcceptance"), {}),
        steps.connection_of(conn("vpce-0aaaaaaaaaaaaaaa3", DEV, "available"), {}),
    ]
    assert steps.to_accept(found, {DEV: "dev"}) == ["vpce-0aaaaaaaaaaaaaaa1"]


def test_wait_for_endpoints_accepts_then_polls_pending_to_available(stubbed, clock):
    ec2, stub = stubbed("ec2")
    mine, other = "vpce-0aaaaaaaaaaaaaaa1", "vpce-0bbbbbbbbbbbbbbb2"
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {
            "VpcEndpointConnections": [
                conn(mine, DEV, "pendingAcceptance"),
                conn(other, STRANGER, "pendingAcceptance"),
            ]
        },
        CONN_FILTER,
    )
    stub.add_response(
        "accept_vpc_endpoint_connections",
        {"Unsuccessful": []},
        {"ServiceId": SERVICE_ID, "VpcEndpointIds": [mine]},
    )
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {"VpcEndpointConnections": [conn(mine, DEV, "pending"), conn(other, STRANGER, "pendingAcceptance")]},
        CONN_FILTER,
    )
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {
            "VpcEndpointConnections": [
                conn(mine, DEV, "available"),
                conn(other, STRANGER, "pendingAcceptance"),
            ]
        },
        CONN_FILTER,
    )
    lines = []
    states = steps.wait_for_endpoints(
        ec2,
        SERVICE_ID,
        {DEV: "dev"},
        [mine],
        steps.Clock(clock.sleep, clock.now, 5),
        timeout=60,
        progress=lines.append,
    )
    assert states == {mine: "available"}
    assert lines == [f"accepted endpoint connection {mine}"]
    assert clock.sleeps == [5, 5]


def test_wait_for_endpoints_times_out_naming_the_state(stubbed, clock):
    ec2, stub = stubbed("ec2")
    mine = "vpce-0aaaaaaaaaaaaaaa1"
    for _ in range(3):
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [conn(mine, DEV, "pending")]},
            CONN_FILTER,
        )
    with pytest.raises(DeployFailed, match=r"timed out after 10s .*'vpce-0aaaaaaaaaaaaaaa1': 'pending'"):
        steps.wait_for_endpoints(
            ec2, SERVICE_ID, {DEV: "dev"}, [mine], steps.Clock(clock.sleep, clock.now, 5), timeout=10
        )


def test_rejected_endpoint_fails_the_wait(stubbed, clock):
    ec2, stub = stubbed("ec2")
    mine = "vpce-0aaaaaaaaaaaaaaa1"
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {"VpcEndpointConnections": [conn(mine, DEV, "rejected")]},
        CONN_FILTER,
    )
    with pytest.raises(DeployFailed, match="connection is rejected"):
        steps.wait_for_endpoints(
            ec2, SERVICE_ID, {DEV: "dev"}, [mine], steps.Clock(clock.sleep, clock.now, 5)
        )


def test_accept_and_reject_report_unsuccessful_items(stubbed):
    ec2, stub = stubbed("ec2")
    stub.add_response(
        "reject_vpc_endpoint_connections",
        {
            "Unsuccessful": [
                {
                    "ResourceId": "vpce-0bbbbbbbbbbbbbbb2",
                    "Error": {
                        "Code": "InvalidVpcEndpointId.NotFound",
                        "Message": "The Vpc Endpoint Id 'vpce-0bbbbbbbbbbbbbbb2' does not exist",
                    },
                }
            ]
        },
        {"ServiceId": SERVICE_ID, "VpcEndpointIds": ["vpce-0aaaaaaaaaaaaaaa1", "vpce-0bbbbbbbbbbbbbbb2"]},
    )
    result = steps.act_on_connections(
        ec2, SERVICE_ID, ["vpce-0aaaaaaaaaaaaaaa1", "vpce-0bbbbbbbbbbbbbbb2"], accept=False
    )
    assert result.succeeded == ["vpce-0aaaaaaaaaaaaaaa1"]
    assert result.failed == {
        "vpce-0bbbbbbbbbbbbbbb2": "InvalidVpcEndpointId.NotFound: "
        "The Vpc Endpoint Id 'vpce-0bbbbbbbbbbbbbbb2' does not exist"
    }


def service_config(state):
    return {
        "ServiceConfigurations": [
            {
                "ServiceId": SERVICE_ID,
                "ServiceName": f"com.amazonaws.vpce.eu-central-1.{SERVICE_ID}",
                "ServiceState": "Available",
                "AcceptanceRequired": True,
                "PrivateDnsName": "hello.example.com",
                "PrivateDnsNameConfiguration": {
                    "State": state,
                    "Type": "TXT",
                    "Value": "vpce:l6p0ERxlTt45jevFwOCp",
                    "Name": "_6e86v84tqgqubxbwii1m",
                },
            }
        ]
    }


ZONES = {
    "HostedZones": [
        {
            "Id": "/hostedzone/Z0PRIVATE00000000001",
            "Name": "example.com.",
            "CallerReference": "a",
            "Config": {"PrivateZone": True},
        },
        {
            "Id": "/hostedzone/Z0PUBLIC000000000001",
            "Name": "example.com.",
            "CallerReference": "b",
            "Config": {"PrivateZone": False},
        },
    ],
    "IsTruncated": False,
    "MaxItems": "100",
    "Marker": "",
}


def test_private_dns_writes_txt_in_the_public_zone_and_polls_until_verified(stubbed, clock):
    ec2, stub = stubbed("ec2")
    r53, rstub = stubbed("route53", "us-east-1")
    stub.add_response(
        "describe_vpc_endpoint_service_configurations",
        service_config("pendingVerification"),
        {"ServiceIds": [SERVICE_ID]},
    )
    rstub.add_response("list_hosted_zones", ZONES)
    rstub.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "/change/C0000000000001", "Status": "PENDING", "SubmittedAt": NOW}},
        {
            "HostedZoneId": "/hostedzone/Z0PUBLIC000000000001",
            "ChangeBatch": {
                "Comment": ANY,
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": "_6e86v84tqgqubxbwii1m.hello.example.com",
                            "Type": "TXT",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": '"vpce:l6p0ERxlTt45jevFwOCp"'}],
                        },
                    }
                ],
            },
        },
    )
    stub.add_response(
        "start_vpc_endpoint_service_private_dns_verification",
        {"ReturnValue": True},
        {"ServiceId": SERVICE_ID},
    )
    stub.add_response("describe_vpc_endpoint_service_configurations", service_config("pendingVerification"))
    stub.add_response("describe_vpc_endpoint_service_configurations", service_config("verified"))
    result = steps.verify_private_dns(
        ec2, r53, SERVICE_ID, "hello.example.com", steps.Clock(clock.sleep, clock.now, 5), timeout=60
    )
    assert result.state == "verified" and result.written
    assert result.record == "_6e86v84tqgqubxbwii1m.hello.example.com"


def test_private_dns_without_a_public_zone_prints_the_record_to_create(stubbed, clock):
    ec2, stub = stubbed("ec2")
    r53, rstub = stubbed("route53", "us-east-1")
    stub.add_response("describe_vpc_endpoint_service_configurations", service_config("pendingVerification"))
    rstub.add_response("list_hosted_zones", {**ZONES, "HostedZones": ZONES["HostedZones"][:1]})
    lines = []
    result = steps.verify_private_dns(
        ec2,
        r53,
        SERVICE_ID,
        "hello.example.com",
        steps.Clock(clock.sleep, clock.now, 5),
        progress=lines.append,
    )
    assert result.state == "pendingVerification" and not result.written
    assert "_6e86v84tqgqubxbwii1m.hello.example.com" in lines[0] and "vpce:l6p0ERxlTt45jevFwOCp" in lines[0]


def test_failed_verification_is_a_deploy_failure(stubbed, clock):
    ec2, stub = stubbed("ec2")
    r53, rstub = stubbed("route53", "us-east-1")
    stub.add_response("describe_vpc_endpoint_service_configurations", service_config("pendingVerification"))
    rstub.add_response("list_hosted_zones", ZONES)
    rstub.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "/change/C0000000000001", "Status": "PENDING", "SubmittedAt": NOW}},
    )
    stub.add_response("start_vpc_endpoint_service_private_dns_verification", {"ReturnValue": True})
    stub.add_response("describe_vpc_endpoint_service_configurations", service_config("failed"))
    with pytest.raises(DeployFailed, match="verification failed"):
        steps.verify_private_dns(
            ec2, r53, SERVICE_ID, "hello.example.com", steps.Clock(clock.sleep, clock.now, 5)
        )


EXPORTED = """client
dev tun
proto udp
remote cvpn-endpoint-0a1b2c3d4e5f60718.prod.clientvpn.eu-central-1.amazonaws.com 443
remote-random-hostname
resolv-retry infinite
nobind
persist-key
persist-tun
remote-cert-tls server
cipher AES-256-GCM
verb 3
<ca>
{ca}
</ca>


reneg-sec 0
"""


def test_vpn_export_inlines_the_client_certificate_and_key(stubbed, tmp_path):
    bundle = ensure_certificates(tmp_path, "hello", "dev")
    ec2, stub = stubbed("ec2")
    stub.add_response(
        "export_client_vpn_client_configuration",
        {"ClientConfiguration": EXPORTED.format(ca=bundle.ca_cert.strip())},
        {"ClientVpnEndpointId": "cvpn-endpoint-0a1b2c3d4e5f60718"},
    )
    text = steps.export_vpn_config(ec2, "cvpn-endpoint-0a1b2c3d4e5f60718", bundle)
    assert check_config(text) == []
    assert bundle.client_cert.strip() in text and bundle.client_key().strip() in text


def test_acm_import_is_tagged_idempotent_and_reimports_into_the_same_arn(tmp_path):
    bundle = ensure_certificates(tmp_path / "dev", "hello", "dev")
    with mock_aws():
        raw = boto3.session.Session(region_name="eu-central-1").client("acm", region_name="eu-central-1")
        acm = ClientProxy(raw, "acm", "dev", "eu-central-1")
        arns = steps.import_certificates(acm, "hello", "dev", bundle)
        assert arns["server_certificate_arn"] != arns["client_ca_arn"]
        tags = {
            t["Key"]: t["Value"]
            for t in raw.list_tags_for_certificate(CertificateArn=arns["server_certificate_arn"])["Tags"]
        }
        assert tags["privlink:link"] == "hello" and tags["privlink:certificate"] == "server"
        again = steps.import_certificates(acm, "hello", "dev", bundle)  # found by tag, same fingerprint
        assert again == arns
        assert len(raw.list_certificates()["CertificateSummaryList"]) == 2
        (tmp_path / "dev" / "server.key").unlink()  # forces a new server certificate
        renewed = ensure_certificates(tmp_path / "dev", "hello", "dev")
        third = steps.import_certificates(acm, "hello", "dev", renewed, known=arns)
        assert third == arns
        body = raw.get_certificate(CertificateArn=arns["server_certificate_arn"])["Certificate"]
        assert body.strip() == renewed.server_cert.strip()
        assert steps.delete_certificate(acm, arns["server_certificate_arn"]) is True
        assert steps.delete_certificate(acm, arns["server_certificate_arn"]) is False
