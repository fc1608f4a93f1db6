"""`privlink test --via ssm`: the probe run on an SSM-managed instance inside the consumer VPC.

For when this machine cannot reach the VPC. The instance is the consumer stack's test instance
(`consumers[].test_instance`, its ID in the stack's `TestInstanceId` output) when its SSM agent is
online. Another instance serves only when the user names it (`--instance`): `privlink iam-policy`
grants `ssm:SendCommand` on the test instances alone (by their tags), so an arbitrary shell script
never goes to an instance nobody chose; when the test instance is not online the failure lists the
VPC's other online instances to choose from. SSM's `AWS-RunShellScript` runs
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

from privlink.aws_error_codes import ACCESS_DENIED
from privlink.errors import PrivlinkError
from privlink.observe.aws import error_code
from privlink.probe import CONNECT_TIMEOUT, DROPPED, Clock, ProbeReport, ProbeStep, describe_error

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
from concurrent.futures import ThreadPoolExecutor
name, port, path, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
BODY_LIMIT, connect_timeout, DROPPED = int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
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
    errors, dropped = [], False
    with ThreadPoolExecutor(max_workers=max(1, len(addresses))) as pool:
        pending = [(a, pool.submit(socket.create_connection, (a, port), connect_timeout)) for a in addresses]
    for address, future in pending:
        try:
            socks.append((address, future.result()))
        except Exception as exc:
            errors.append("%s:%d: %s" % (address, port, describe(exc)))
            dropped = dropped or isinstance(exc, (socket.timeout, TimeoutError))
    if errors:
        raise Failed("; ".join(errors) + (" (%s)" % DROPPED if dropped else ""))
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


def remote_commands(
    name: str, port: int, path: str = "/", timeout: float = 5.0, connect_timeout: float = CONNECT_TIMEOUT
) -> list[str]:
    """The shell commands SSM runs: the probe script through a quoted heredoc, arguments shell-quoted."""
    args = " ".join(
        shlex.quote(a)
        for a in (name, str(port), path, str(timeout), str(REMOTE_BODY_LIMIT), str(connect_timeout), DROPPED)
    )
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


def running_in_vpc(ec2: Any, vpc_id: str) -> list[str]:
    """The running instances in `vpc_id`."""
    response = ec2.describe_instances(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    return [i["InstanceId"] for r in response.get("Reservations", []) for i in r.get("Instances", [])]


def others_online(ec2: Any, ssm: Any, vpc_id: str, test_instance: str | None) -> list[str]:
    """The running instances in `vpc_id` other than the test instance whose agent is online, for the
    hint; empty when they cannot be read (the hint is then left out, the failure stands)."""
    try:
        ids = [i for i in running_in_vpc(ec2, vpc_id) if i != test_instance]
        return online(ssm, ids) if ids else []
    except PrivlinkError:
        return []


def no_instance_detail(vpc_id: str, test_instance: str | None, others: list[str]) -> str:
    """Why no instance was chosen, what to do, and which others could be named."""
    if test_instance:
        detail = (
            f"the test instance {test_instance} is not online in SSM yet; its agent registers a few "
            "minutes after `privlink up` (through the ssm, ssmmessages and ec2messages endpoints): "
            "wait and retry, or use --via local"
        )
    else:
        detail = (
            "the consumer stack has no test instance; set consumers[].test_instance: {enabled: true} "
            f"and run `privlink up`, name an SSM-managed instance of yours in {vpc_id} with --instance, "
            "or use --via local"
        )
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        detail += (
            f"; online in SSM in {vpc_id}: {shown}, not used unless named: --instance {others[0]} "
            "(it needs an ssm:SendCommand grant of yours: `privlink iam-policy` grants it on the "
            "test instances only)"
        )
    return detail


def named_instance_problem(ec2: Any, ssm: Any, vpc_id: str, instance_id: str, where: str) -> str | None:
    """Why the instance named with `--instance` cannot run the probe, or None when it can: it must
    be a running instance in the consumer VPC whose SSM agent is online."""
    response = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance_id]}])
    found = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
    if not found:
        return f"--instance {instance_id}: no such instance in {where}; name one in {vpc_id}"
    instance = found[0]
    if instance.get("VpcId") != vpc_id:
        return (
            f"--instance {instance_id} is in {instance.get('VpcId') or 'no VPC'}, not in the consumer "
            f"VPC {vpc_id}: the probe must run inside it; name an instance there"
        )
    state = instance.get("State", {}).get("Name", "unknown")
    if state != "running":
        return f"--instance {instance_id} is {state}: start it, or name a running instance in {vpc_id}"
    if not online(ssm, [instance_id]):
        return (
            f"--instance {instance_id}: its SSM agent is not online; it needs the agent, a role with "
            "AmazonSSMManagedInstanceCore and a way to reach SSM (the ssm, ssmmessages and ec2messages "
            "endpoints in a VPC without internet)"
        )
    return None


def send_denied_detail(
    exc: PrivlinkError, instance_id: str, test_instance: str | None, account: str, region: str
) -> str:
    """AccessDenied from SendCommand: the action, the instance, and the fix for that instance."""
    if instance_id == test_instance:
        fix = (
            "attach the consumer policy `privlink iam-policy --side consumer` prints (statements "
            f"SsmProbeDocument and SsmProbeTestInstances) to the identity of accounts.{account}"
        )
    else:
        fix = (
            "privlink's policy grants it on the test instances of the consumer stacks only: grant "
            f"ssm:SendCommand on arn:aws:ec2:{region}:*:instance/{instance_id} and "
            f"arn:aws:ssm:{region}::document/{SSM_DOCUMENT} to the identity of accounts.{account}"
        )
    said = " ".join(exc.what.split())[:300]
    return f"ssm:SendCommand on {instance_id} denied ({account}, {region}): {fix} (AWS: {said})"


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
    """Run the probe on `instance_id` (the user named it) when it is fit to, else on `preferred` (the
    consumer stack's test instance) when its agent is online, and on no other; never raises for AWS
    errors. The report's first step is `ssm` (which instance, which command, how it ended)."""
    report = ProbeReport(name=name, port=port, via="ssm")
    start = clock()

    def fail(detail: str) -> ProbeReport:
        report.steps.append(ProbeStep("ssm", False, round((clock() - start) * 1000, 1), detail))
        return report

    try:
        ssm = clients(account, region, "ssm")
        if instance_id is not None:
            ec2 = clients(account, region, "ec2")
            problem = named_instance_problem(ec2, ssm, vpc_id, instance_id, f"account {account}, {region}")
            if problem:
                return fail(problem)
        elif preferred and online(ssm, [preferred]):
            instance_id = preferred
        else:
            others = others_online(clients(account, region, "ec2"), ssm, vpc_id, preferred)
            return fail(no_instance_detail(vpc_id, preferred, others))
        try:
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
        except PrivlinkError as exc:
            if error_code(exc) not in ACCESS_DENIED:
                raise
            return fail(send_denied_detail(exc, instance_id, preferred, account, region))
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
