"""The local target end to end: the rendered templates in the sandbox, real sockets on loopback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import dns.resolver
import pytest
import yaml

from privlink.errors import BadInput, DeployFailed
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.target import TIME_SCALE_ENV, LocalTarget


def spec_from(edit=None, cross_region=False):
    data = yaml.safe_load(demo_spec_text(cross_region))
    if edit:
        edit(data)
    return parse_spec(yaml.safe_dump(data))


@pytest.fixture
def sandbox(tmp_path):
    """A factory of LocalTargets in a temp dir; every one is brought down at the end."""
    made: list[LocalTarget] = []

    def make(spec):
        target = LocalTarget(spec, tmp_path / ".privlink")
        made.append(target)
        return target

    yield make
    for target in made:
        target.down()
        assert not (tmp_path / ".privlink").exists()


def resolve(dns_address: str, name: str) -> list[str]:
    host, port = dns_address.split(":")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.lifetime = 3
    return sorted(a.address for a in resolver.resolve(name, "A"))


def http_get(address: str, port: int, host: str = "hello.internal.company") -> dict:
    with socket.create_connection((address, port), timeout=3) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


def no_answer(address: str, port: int) -> bool:
    """True when the connection fails or closes without an answer."""
    try:
        http_get(address, port)
    except (OSError, AssertionError, ValueError):
        return True
    return False


def connect_outcome(address: str, port: int = 8080, timeout: float = 0.5) -> str:
    """ "connected", "timed out" (packets dropped, as on AWS) or "refused" (nothing at the address)."""
    try:
        socket.create_connection((address, port), timeout=timeout).close()
    except TimeoutError:
        return "timed out"
    except ConnectionRefusedError:
        return "refused"
    return "connected"


class KeepAlive:
    """One HTTP/1.1 connection asking again and again, as a keep-alive client does."""

    def __init__(self, address: str, port: int = 8080):
        self.sock = socket.create_connection((address, port), timeout=3)
        self.file = self.sock.makefile("rb")

    def ask(self) -> int:
        """The status of one more GET on this connection; raises OSError when it is cut."""
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: hello.internal.company:8080\r\n\r\n")
        status = self.file.readline()
        if not status:
            raise ConnectionResetError("closed")
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        self.file.read(length)
        return int(status.split()[1])

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_demo_path_end_to_end_and_down_leaves_nothing(sandbox, tmp_path):
    target = sandbox(spec_from())
    status = target.up()
    consumer = status["consumers"][0]
    assert consumer["endpoint_state"] == "available"
    assert status["dns"].startswith("127.0.0.1:")
    addresses = resolve(status["dns"], "hello.internal.company")
    assert addresses == sorted(a.split(":")[0] for a in consumer["addresses"])
    assert len(addresses) == 2
    answers = [http_get(a, 8080) for a in addresses]
    assert all(a["message"] == "Hello from provider" for a in answers)
    # the regional endpoint name resolves too; an unknown name does not
    regional = consumer["dns_entries"][0].split(":", 1)[1]
    assert resolve(status["dns"], regional) == addresses
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(status["dns"], "nope.internal.company")
    pid = target.runtime()["pid"]
    again = target.up()  # idempotent
    assert again["consumers"][0]["endpoint_id"] == consumer["endpoint_id"]
    assert target.runtime()["pid"] == pid
    target.down()
    assert not (tmp_path / ".privlink").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert connect_outcome(addresses[0]) == "refused"


def test_same_cidr_two_consumers_and_cross_region(sandbox):
    def edit(data):
        data["consumers"][0]["vpc"]["cidr"] = data["producer"]["vpc"]["cidr"]
        second = dict(data["consumers"][0], name="qa", account="qa")
        second["region"] = "eu-west-2"
        second["private_dns"] = {"zone": "qa.company", "record": "hello"}
        second.pop("vpn")
        data["consumers"].append(second)

    target = sandbox(spec_from(edit))
    status = target.up()
    by_name = {c["name"]: c for c in status["consumers"]}
    assert {c["endpoint_state"] for c in by_name.values()} == {"available"}
    dev = resolve(by_name["dev"]["dns"], "hello.internal.company")
    qa = resolve(by_name["qa"]["dns"], "hello.qa.company")
    assert not set(dev) & set(qa)  # same VPC CIDRs, different loopback addresses
    for address in dev + qa:
        assert http_get(address, 8080)["message"] == "Hello from provider"
    assert status["dns_answers_as"] == "dev"  # dev's VPC does not resolve qa's private zone
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(status["dns"], "hello.qa.company")


def test_two_consumers_with_the_same_private_name_each_resolve_their_own_endpoint(sandbox):
    """Private zones answer per VPC (each VPC's resolver), as on AWS: no collision."""
    from privlink.probe import run_probe

    def edit(data):
        second = dict(data["consumers"][0], name="qa", account="qa")
        second["vpc"] = {"cidr": "10.30.0.0/16", "azs": 2}
        second.pop("vpn")
        data["consumers"].append(second)  # the same private_dns: hello.internal.company

    target = sandbox(spec_from(edit))
    status = target.up()
    by_name = {c["name"]: c for c in status["consumers"]}
    own = {name: sorted(a.split(":")[0] for a in c["addresses"]) for name, c in by_name.items()}
    assert not set(own["dev"]) & set(own["qa"])
    for name, consumer in by_name.items():
        assert consumer["dns"] and consumer["dns"] != status["dns"]
        assert resolve(consumer["dns"], "hello.internal.company") == own[name]
        dns_server, names, port = target.probe_plan(name)
        assert dns_server == consumer["dns"] and names == ["hello.internal.company"]
    # the shared address answers as the first consumer's VPC resolver, and says so: no VPC has a
    # resolver answering every consumer's names at once
    assert status["dns_answers_as"] == "dev"
    assert resolve(status["dns"], "hello.internal.company") == own["dev"]
    # a fault on dev's endpoint breaks dev only: qa's name does not lead to dev's endpoint
    target.inject_fault("endpoint-sg-closed")
    for name, ok in (("dev", False), ("qa", True)):
        dns_server, [private_name], port = target.probe_plan(name)
        assert run_probe(private_name, port, dns_server).ok is ok


def with_consumers(*names: str, interval: int = 10):
    """The demo spec with these consumers (no VPN, each its own account and VPC CIDR) and the target
    group's health-check interval."""

    def edit(data):
        dev = data["consumers"][0]
        dev.pop("vpn")
        data["producer"]["service"]["health_check"]["interval"] = interval
        cidrs = {"alpha": "10.30.0.0/16", "dev": "10.31.0.0/16", "qa": "10.32.0.0/16", "zed": "10.33.0.0/16"}
        data["consumers"] = [
            dict(dev, name=name, account=name, vpc={"cidr": cidrs[name], "azs": 2}) for name in names
        ]

    return spec_from(edit)


def addresses_by_eni(target: LocalTarget) -> dict[str, dict[str, str]]:
    """consumer -> {ENI id: its address} from the data plane, checked against `status`'s `addresses`
    (what `status --output json` prints) and with each consumer's resolver (`dns`)."""
    status, runtime = target.status(), target.runtime()
    found = {}
    for consumer in status["consumers"]:
        enis = runtime["endpoints"][consumer["endpoint_id"]]["enis"]
        assert consumer["addresses"] == [e["address"] for e in enis]
        found[consumer["name"]] = {e["eni_id"]: e["address"] for e in enis} | {"dns": consumer["dns"]}
    return found


def test_endpoint_addresses_are_kept_for_each_enis_life(tmp_path):
    """As an ENI keeps its private IP on AWS: an `up` that changes the target group, adds a consumer or
    removes one never moves another consumer's addresses (a saved `curl --resolve` keeps reaching its
    own endpoint); a removed consumer's addresses are free for the next new one."""
    state = tmp_path / ".privlink"
    target = LocalTarget(with_consumers("dev", "qa"), state)
    try:
        target.up()
        first = addresses_by_eni(target)
        target = LocalTarget(with_consumers("dev", "qa", interval=15), state)  # the target group changes
        target.up()
        assert addresses_by_eni(target) == first
        target = LocalTarget(with_consumers("alpha", "dev", "qa"), state)  # sorts first, created last
        target.up()
        added = addresses_by_eni(target)
        assert {k: added[k] for k in first} == first
        assert not {*added["alpha"].values()} & {*first["dev"].values(), *first["qa"].values()}
        target = LocalTarget(with_consumers("alpha", "qa"), state)  # dev, created first, goes
        target.up()
        assert addresses_by_eni(target) == {k: added[k] for k in ("alpha", "qa")}
        target = LocalTarget(with_consumers("alpha", "qa", "zed"), state)
        target.up()
        reused = addresses_by_eni(target)
        assert {k: reused[k] for k in ("alpha", "qa")} == {k: added[k] for k in ("alpha", "qa")}
        assert sorted(reused["zed"].values()) == sorted(first["dev"].values())  # dev's, freed
    finally:
        target.down()


def test_acceptance_flow(sandbox):
    def edit(data):
        data["producer"]["endpoint_service"]["auto_accept"] = False

    target = sandbox(spec_from(edit))
    status = target.up()
    endpoint_id = status["consumers"][0]["endpoint_id"]
    assert status["consumers"][0]["endpoint_state"] == "pendingAcceptance"
    assert [c.state for c in target.connections()] == ["pendingAcceptance"]
    addresses = [a.split(":")[0] for a in status["consumers"][0]["addresses"]]
    assert [connect_outcome(a) for a in addresses] == ["timed out"] * 2  # dropped until accepted
    result = target.accept([endpoint_id])
    assert result.succeeded == [endpoint_id]
    status = target.status()
    assert status["consumers"][0]["endpoint_state"] == "available"
    target.wait_until_serving()
    for address in resolve(target.status()["dns"], "hello.internal.company"):
        assert http_get(address, 8080)["message"] == "Hello from provider"
    open_flow = KeepAlive(addresses[0])
    assert open_flow.ask() == 200
    target.reject([endpoint_id])
    assert target.connections()[0].state == "rejected"
    assert [connect_outcome(a) for a in addresses] == ["timed out"] * 2
    with pytest.raises(OSError):  # the path is gone: the open flow is cut
        open_flow.ask()
    open_flow.close()


def test_principal_not_allowed_fails_with_aws_error_and_keeps_the_producer(sandbox):
    def edit(data):
        data["consumers"][0]["principal"] = "arn:aws:iam::123456789012:root"

    target = sandbox(spec_from(edit))
    with pytest.raises(DeployFailed) as info:
        target.up()
    assert "InvalidServiceName" in str(info.value)
    assert "does not exist" in str(info.value)
    stacks = {s["name"]: s["status"] for s in target.status()["stacks"]}
    assert stacks["privlink-hello-producer"] == "CREATE_COMPLETE"
    assert stacks["privlink-hello-consumer-dev"] == "NOT_DEPLOYED"


def test_fault_endpoint_sg_closed_breaks_and_clear_restores(sandbox):
    """New connections time out (the security group drops their packets, as on AWS); one already
    open goes on (security groups are stateful)."""
    target = sandbox(spec_from())
    status = target.up()
    addresses = resolve(status["dns"], "hello.internal.company")
    open_flow = KeepAlive(addresses[0])
    assert open_flow.ask() == 200
    target.inject_fault("endpoint-sg-closed")
    assert [connect_outcome(a) for a in addresses] == ["timed out"] * 2
    assert [open_flow.ask() for _ in range(5)] == [200] * 5
    open_flow.close()
    target.clear_faults()
    target.wait_until_serving()
    assert all(http_get(a, 8080)["message"] == "Hello from provider" for a in addresses)


def test_simulated_account_ids_are_not_the_placeholders(sandbox):
    assert idfmt.account_id("dev") != idfmt.account_id("prod")


def test_existing_state_file_corrupt_is_bad_input(tmp_path):
    state = tmp_path / ".privlink"
    state.mkdir()
    (state / "sandbox.json").write_text("{not json")
    target = LocalTarget(spec_from(), state)
    from privlink.errors import StateError

    with pytest.raises(StateError):
        target.up()
    assert Path(state / "sandbox.json").read_text() == "{not json"


@pytest.mark.parametrize("registered", [True, False])
def test_auto_approval_runs_the_lambda_handler_on_connection_events(sandbox, tmp_path, registered):
    from privlink.approval.registry import LocalRegistry

    def edit(data):
        data["producer"]["endpoint_service"]["auto_accept"] = False
        data["producer"]["endpoint_service"]["auto_approval"] = {"registry": True}

    if registered:
        LocalRegistry(tmp_path / ".privlink").add(idfmt.account_id("dev"), name="dev")
    target = sandbox(spec_from(edit))
    status = target.up()
    expected = "available" if registered else "pendingAcceptance"
    assert status["consumers"][0]["endpoint_state"] == expected


def test_the_time_scale_variable_reaches_the_data_plane_and_later_commands_keep_it(sandbox, monkeypatch):
    """PRIVLINK_SANDBOX_TIME_SCALE (user-facing) goes into the data plane's config; a later command
    without it keeps the running data plane's; a target given a time scale uses its own."""
    monkeypatch.setenv(TIME_SCALE_ENV, "0.2")
    target = sandbox(spec_from())
    target.up()
    assert target.runtime()["time_scale"] == 0.2
    assert json.loads(target.config_path.read_text())["time_scale"] == 0.2

    monkeypatch.delenv(TIME_SCALE_ENV)
    later = LocalTarget(target.spec, target.state_dir)  # e.g. `privlink sandbox inject` afterwards
    later.apply_dataplane(later.load_world())
    assert later.runtime()["time_scale"] == 0.2

    given = LocalTarget(target.spec, target.state_dir, time_scale=0.05)
    given.apply_dataplane(given.load_world())
    assert given.runtime()["time_scale"] == 0.05

    monkeypatch.setenv(TIME_SCALE_ENV, "fast")
    with pytest.raises(BadInput) as bad:
        later.apply_dataplane(later.load_world())
    assert bad.value.one_line() == f"{TIME_SCALE_ENV}: 'fast' is not a positive number"
    assert target.runtime()["time_scale"] == 0.05  # still running, unchanged


def test_without_the_variable_a_new_data_plane_runs_at_aws_speed(sandbox, monkeypatch):
    monkeypatch.delenv(TIME_SCALE_ENV, raising=False)
    target = sandbox(spec_from())
    target.up()
    assert target.runtime()["time_scale"] == 1.0


def test_the_sandbox_runs_the_plan_private_dns_after_acceptance_az_ids_decided_and_orphans(sandbox):
    """The same plan as on AWS, one step at a time: the endpoint is created with private DNS off,
    accepted, then updated; the consumer's subnets sit in the producer's AZ IDs (named differently
    in its account); a re-run plans no change; a VPN taken out of the spec goes with its certificates."""

    def private_dns(data):
        data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
        data["consumers"][0]["private_dns_enabled"] = True

    target = sandbox(spec_from(private_dns))
    status = target.up()
    assert status["consumers"][0]["endpoint_state"] == "available"
    world = target.load_world()
    endpoint = world.endpoints[status["consumers"][0]["endpoint_id"]]
    assert endpoint.private_dns_enabled and endpoint.history[0] == "pendingAcceptance"
    consumer = world.find_stack("privlink-hello-consumer-dev")
    assert consumer.parameters["PrivateDnsEnabled"] == "true"
    assert [e.status for e in consumer.events if e.logical_id == "Endpoint"] == [
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",  # enable-private-dns:dev, after the acceptance
    ]
    producer = world.find_stack("privlink-hello-producer").outputs["AvailabilityZoneIds"]
    network = world.find_stack("privlink-hello-network-dev").outputs["AvailabilityZoneIds"]
    assert network == producer
    assert world.az_mapping("prod", "eu-central-1") != world.az_mapping("dev", "eu-central-1")

    report = target.plan()
    assert "enable-private-dns:dev" not in [s.id for s in report.plan.steps]
    assert {c.action for c in report.lines()} == {"No change"}

    def no_vpn(data):
        private_dns(data)
        data["consumers"][0].pop("vpn")

    smaller = sandbox(spec_from(no_vpn))
    assert ("privlink-hello-vpn-dev", "Delete stack") in [(c.stack, c.action) for c in smaller.plan().lines()]
    smaller.up()
    world = smaller.load_world()
    assert world.find_stack("privlink-hello-vpn-dev") is None
    assert world.certificates == {}  # the removed VPN's certificates went with it
