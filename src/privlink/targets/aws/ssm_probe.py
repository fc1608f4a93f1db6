"""`privlink test --via ssm`: the probe run on an SSM-managed instance inside the consumer VPC.

For when this machine cannot reach the VPC. The instance is the consumer stack's test instance
(`consumers[].test_instance`, its ID in the stack's `TestInstanceId` output) when its SSM agent is
online, else any running instance in the VPC whose agent is. SSM's `AWS-RunShellScript` runs
`REMOTE_SCRIPT` there with the instance's `python3` (stdlib only, Python 3.9 as on Amazon Linux
2023): the same steps as `privlink.probe.run_probe` with the system resolver (the VPC's), printed
as one JSON `ProbeReport`. The result comes back through `GetCommandInvocation`, whose standard
output holds the first 24,000 characters, so the script reports at most `REMOTE_BODY_LIMIT`
characters of the body.

Clients come from the injected `clients(account_label, region, service)` (the gateway's); time is
injected (`sleep`, `clock`). Nothing here raises for AWS errors: they end as a failed `ssm` step.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from typing import Any

from privlink.errors import PrivlinkError
from privlink.observe.aws import error_code
from privlink.probe import Clock, ProbeReport, ProbeStep, describe_error

SSM_DOCUMENT = "AWS-RunShellScript"
SSM_DONE = {"Success", "Failed", "Cancelled", "TimedOut"}
ONLINE = "Online"
MAX_FILTER_VALUES = 50  # DescribeInstanceInformation's InstanceIds filter takes up to 50 IDs
REMOTE_BODY_LIMIT = 4096
HEREDOC = "PRIVLINK_PROBE"

# The probe's steps as `run_probe` takes them, in Python 3.9 and the standard library only: every
# resolved address (one per endpoint ENI) must accept a connection and answer HTTP 2xx.
REMOTE_SCRIPT = r"""
import http.client, ipaddress, json, socket, sys, time
name, port, path, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
BODY_LIMIT = int(sys.argv[5])
report = {"name": name, "port": port, "via": "ssm", "dns_server": None, "steps": [],
          "address": None, "status": None, "body": "", "json": None}
class Failed(Exception):
    pass
def describe(exc):
    if isinstance(exc, Failed):
        return str(exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OSError) else "%s: %s" % (type(exc).__name__, text)
def step(label, action):
    start = time.monotonic()
    try:
        detail, ok = action(), True
    except Exception as exc:
        detail, ok = describe(exc), False
    report["steps"].append({"name": label, "ok": ok, "ms": round((time.monotonic() - start) * 1000, 1),
                            "detail": detail})
    return ok
addresses, socks = [], []
def resolve():
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        addresses.append(name)
        return "%s is an address" % name
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Failed("the system resolver cannot resolve %s: %s" % (name, exc.strerror))
    addresses.extend(dict.fromkeys(str(i[4][0]) for i in infos))
    return "%s -> %s" % (name, ", ".join(addresses))
def connect():
    errors = []
    for address in addresses:
        try:
            socks.append((address, socket.create_connection((address, port), timeout=timeout)))
        except OSError as exc:
            errors.append("%s:%d: %s" % (address, port, describe(exc)))
    if errors:
        raise Failed("; ".join(errors))
    report["address"] = socks[0][0]
    return "connected to " + ", ".join("%s:%d" % (a, port) for a, _ in socks)
def get(address, sock):
    conn = http.client.HTTPConnection(name, port, timeout=timeout)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": "%s:%d" % (name, port), "Connection": "close"})
        response = conn.getresponse()
        raw = response.read(65536)
    finally:
        conn.close()
    if report["status"] is None or not 200 <= response.status < 300:
        report["status"] = response.status
        body = raw.decode("utf-8", "replace")
        report["body"] = body[:BODY_LIMIT]
        try:
            report["json"] = json.loads(body) if len(body) <= BODY_LIMIT else None
        except ValueError:
            report["json"] = None
    line = "HTTP %d %s, %d bytes" % (response.status, response.reason, len(raw))
    if not 200 <= response.status < 300:
        raise Failed("%s: %s" % (address, line))
    return line
def fetch():
    lines, errors = [], []
    for address, sock in socks:
        try:
            lines.append(get(address, sock))
        except Exception as exc:
            errors.append("%s: %s" % (address, describe(exc)))
    if errors:
        raise Failed("; ".join(errors))
    return lines[0] + (" (from each of %d addresses)" % len(lines) if len(lines) > 1 else "")
try:
    if step("resolve", resolve) and step("connect", connect):
        step("http", fetch)
finally:
    for _, s in socks:
        s.close()
sys.stdout.buffer.write(json.dumps(report, ensure_ascii=False).encode("utf-8") + b"\n")
"""


def remote_commands(name: str, port: int, path: str = "/", timeout: float = 5.0) -> list[str]:
    """The shell commands SSM runs: the probe script through a quoted heredoc, arguments shell-quoted."""
    args = " ".join(shlex.quote(a) for a in (name, str(port), path, str(timeout), str(REMOTE_BODY_LIMIT)))
    return [f"python3 - {args} <<'{HEREDOC}'\n{REMOTE_SCRIPT.strip()}\n{HEREDOC}"]


def online(ssm: Any, instance_ids: list[str]) -> list[str]:
    """Those of `instance_ids` whose SSM agent is online, in the given order."""
    found: set[str] = set()
    for start in range(0, len(instance_ids), MAX_FILTER_VALUES):
        chunk = instance_ids[start : start + MAX_FILTER_VALUES]
        info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": chunk}])
        found |= {
            i["InstanceId"] for i in info.get("InstanceInformationList", []) if i.get("PingStatus") == ONLINE
        }
    return [i for i in instance_ids if i in found]


def find_ssm_instance(ec2: Any, ssm: Any, vpc_id: str, preferred: str | None = None) -> str | None:
    """`preferred` (the stack's test instance) when its agent is online, else a running instance in
    `vpc_id` whose agent is, else None."""
    if preferred and online(ssm, [preferred]):
        return preferred
    response = ec2.describe_instances(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    ids = [i["InstanceId"] for r in response.get("Reservations", []) for i in r.get("Instances", [])]
    ids = [i for i in ids if i != preferred]
    found = online(ssm, ids) if ids else []
    return found[0] if found else None


def no_instance_detail(vpc_id: str, preferred: str | None) -> str:
    if preferred:
        return (
            f"the test instance {preferred} is not online in SSM yet, nor any other instance in {vpc_id}; "
            "its agent registers a few minutes after `privlink up` (through the ssm, ssmmessages and "
            "ec2messages endpoints): wait and retry, or use --via local"
        )
    return (
        f"no running SSM-managed instance in {vpc_id}; set consumers[].test_instance: {{enabled: true}} "
        "and run `privlink up`, or start one with the SSM agent and AmazonSSMManagedInstanceCore, "
        "or use --via local"
    )


def run_probe_ssm(
    clients: Callable[[str, str, str], Any],
    account: str,
    region: str,
    vpc_id: str,
    name: str,
    port: int,
    *,
    preferred: str | None = None,
    instance_id: str | None = None,
    path: str = "/",
    timeout: float = 5.0,
    wait: float = 120.0,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time.monotonic,
) -> ProbeReport:
    """Run the probe on `instance_id`, else on `find_ssm_instance(..., preferred)`; never raises for
    AWS errors. The report's first step is `ssm` (which instance, which command, how it ended)."""
    report = ProbeReport(name=name, port=port, via="ssm")
    start = clock()

    def fail(detail: str) -> ProbeReport:
        report.steps.append(ProbeStep("ssm", False, round((clock() - start) * 1000, 1), detail))
        return report

    try:
        ssm = clients(account, region, "ssm")
        if instance_id is None:
            instance_id = find_ssm_instance(clients(account, region, "ec2"), ssm, vpc_id, preferred)
        if instance_id is None:
            return fail(no_instance_detail(vpc_id, preferred))
        sent = ssm.send_command(
            InstanceIds=[instance_id],
            DocumentName=SSM_DOCUMENT,
            Comment=f"privlink test {name}:{port}"[:100],
            Parameters={
                "commands": remote_commands(name, port, path, timeout),
                "executionTimeout": [str(max(30, int(wait)))],
            },
            TimeoutSeconds=max(30, int(wait)),
        )
        command_id = sent["Command"]["CommandId"]
        invocation: dict[str, Any] = {}
        while True:
            sleep(poll)
            try:
                invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
            except Exception as exc:
                # SSM answers InvocationDoesNotExist for a moment after SendCommand.
                if error_code(exc) != "InvocationDoesNotExist":
                    raise
                invocation = {}
            if invocation.get("Status") in SSM_DONE or clock() - start >= wait:
                break
    except PrivlinkError as exc:  # the gateway's AwsError: the call, AWS's message, and the fix
        return fail(f"SSM failed: {exc.one_line()}" + (f"; {exc.hint}" if exc.hint else ""))
    except Exception as exc:  # the probe reports failures, it does not raise them
        return fail(f"SSM failed: {describe_error(exc)}")
    status = invocation.get("Status", "not started")
    where = f"command {command_id} on {instance_id}"
    if status not in SSM_DONE:
        return fail(f"{where} is still {status} after {wait:g} s; the agent may be busy: retry in a minute")
    output = invocation.get("StandardOutputContent", "").strip()
    try:
        remote = ProbeReport.from_dict(json.loads(output.splitlines()[-1]))
    except (ValueError, KeyError, IndexError, TypeError):
        error = " ".join(invocation.get("StandardErrorContent", "").split())[:300]
        return fail(f"{where} ended {status}: {error or 'no probe output'}")
    remote.via = "ssm"
    elapsed = round((clock() - start) * 1000, 1)
    remote.steps.insert(0, ProbeStep("ssm", status == "Success", elapsed, f"{where}: {status}"))
    return remote
