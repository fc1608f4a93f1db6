"""AWS-shaped identifiers for the sandbox: deterministic from a seed (tests) or random (real use).

Formats mirror aws-facts-detailed.md: 17-hex resource IDs, `vpce-svc-` service IDs, endpoint DNS
names, NLB ARNs and DNS names, 12-digit account IDs, AZ names and per-account AZ IDs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string

HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits

# Known per-region hosted zone of vpce DNS names (aws-facts-detailed §3); other regions get a
# deterministic stand-in of the same shape.
VPCE_ZONE_IDS = {"us-east-1": "Z7HUB22UULQXV"}
# AZ letters per region; any other region gets a, b, c.
REGION_AZ_LETTERS = {"us-east-1": "abcdef", "us-west-2": "abcd", "ap-northeast-1": "acd"}
_DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}
# Account IDs a reader might take for a real or documentation account.
_WELL_KNOWN = {"123456789012", "000000000000", "012345678901", "210987654321"}


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def account_id(label: str) -> str:
    """A stable 12-digit simulated account ID for an account label (never a well-known one)."""
    salt = 0
    while True:
        value = int.from_bytes(_digest("privlink-account", label, str(salt))[:8], "big")
        candidate = f"{value % 10**12:012d}"
        if candidate[0] != "0" and len(set(candidate)) > 2 and candidate not in _WELL_KNOWN:
            return candidate
        salt += 1


def az_names(region: str) -> list[str]:
    """The region's AZ names (`eu-central-1a`, ...)."""
    return [f"{region}{letter}" for letter in REGION_AZ_LETTERS.get(region, "abc")]


def az_id_prefix(region: str) -> str:
    """The AZ ID prefix of a region: use1, euc1, euw2, apne1, usgw1."""
    parts = region.split("-")
    if len(parts) < 3:
        raise ValueError(f"{region!r} is not a region name")
    country, words, number = parts[0], parts[1:-1], parts[-1]
    letters = "".join(_DIRECTIONS.get(word, word[0]) for word in words)
    if words and words[0] == "gov":
        letters = "g" + "".join(_DIRECTIONS.get(word, word[0]) for word in words[1:])
    return f"{country}{letters}{number}"


def az_mapping(account: str, region: str) -> dict[str, str]:
    """AZ name -> AZ ID for one account: names are shuffled per account, as AWS does."""
    names = az_names(region)
    count = len(names)
    rotation = int.from_bytes(_digest("privlink-az", account, region)[:4], "big") % count
    prefix = az_id_prefix(region)
    return {name: f"{prefix}-az{(i + rotation) % count + 1}" for i, name in enumerate(names)}


def vpce_hosted_zone_id(region: str) -> str:
    """The hosted zone ID of the region's vpce DNS names."""
    if region in VPCE_ZONE_IDS:
        return VPCE_ZONE_IDS[region]
    raw = _digest("privlink-vpce-zone", region)
    return "Z" + "".join(UPPER_ALNUM[b % len(UPPER_ALNUM)] for b in raw[:12])


class IdFactory:
    """Makes identifiers: deterministic from `seed` (same sequence every run) or random.

    `counter` is part of the state so a reloaded world continues the same sequence.
    """

    def __init__(self, seed: str | None = None, counter: int = 0) -> None:
        self.seed = seed
        self.counter = counter

    def _chars(self, alphabet: str, length: int, kind: str) -> str:
        if self.seed is None:
            return "".join(secrets.choice(alphabet) for _ in range(length))
        self.counter += 1
        out = []
        block = 0
        while len(out) < length:
            raw = _digest(self.seed, kind, str(self.counter), str(block))
            out.extend(alphabet[b % len(alphabet)] for b in raw)
            block += 1
        return "".join(out[:length])

    def hex17(self, kind: str = "") -> str:
        return self._chars(HEX, 17, kind)

    def resource_id(self, prefix: str) -> str:
        """`vpc-`, `subnet-`, `sg-`, `rtb-`, `eni-`, `i-`, `vpce-`, `vpce-svc-`... + 17 hex."""
        return f"{prefix}-{self.hex17(prefix)}"

    def lower_alnum(self, length: int, kind: str = "") -> str:
        return self._chars(LOWER_ALNUM, length, kind)

    def upper_alnum(self, length: int, kind: str = "") -> str:
        return self._chars(UPPER_ALNUM, length, kind)

    def hex(self, length: int, kind: str = "") -> str:
        return self._chars(HEX, length, kind)

    def uuid(self) -> str:
        h = self.hex(32, "uuid")
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def hosted_zone_id(self) -> str:
        return "Z" + self.upper_alnum(20, "zone")

    def endpoint_dns_label(self) -> str:
        """The 8 lowercase alphanumerics after the endpoint ID in its DNS names."""
        return self.lower_alnum(8, "dns")


def service_name(region: str, service_id: str) -> str:
    return f"com.amazonaws.vpce.{region}.{service_id}"


def endpoint_dns_names(
    endpoint_id: str, label: str, service_id: str, service_region: str, zones: list[str]
) -> list[str]:
    """The endpoint's regional name, then one zonal name per AZ name."""
    base = f"{service_id}.{service_region}.vpce.amazonaws.com"
    names = [f"{endpoint_id}-{label}.{base}"]
    names.extend(f"{endpoint_id}-{label}-{zone}.{base}" for zone in zones)
    return names


def nlb_arn(region: str, account: str, name: str, suffix16: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/net/{name}/{suffix16}"


def nlb_dns_name(region: str, name: str, suffix16: str) -> str:
    return f"{name}-{suffix16}.elb.{region}.amazonaws.com"


def target_group_arn(region: str, account: str, name: str, suffix16: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{suffix16}"


def listener_arn(lb_arn: str, suffix16: str) -> str:
    return lb_arn.replace(":loadbalancer/", ":listener/") + f"/{suffix16}"


def private_dns_name(ip: str, region: str) -> str:
    """An instance's private DNS name: ip-10-20-1-10.eu-central-1.compute.internal."""
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


# Regexes for the formats above (also used by tests and the doctor).
RE_HEX17_ID = re.compile(
    r"^(vpc|subnet|sg|rtb|eni|i|vpce|vpce-svc|vpce-nfn|cvpn-endpoint|cvpn-assoc)-[0-9a-f]{17}$"
)
RE_SERVICE_NAME = re.compile(r"^com\.amazonaws\.vpce\.[a-z]{2}(-gov)?-[a-z]+-\d\.vpce-svc-[0-9a-f]{17}$")
RE_ENDPOINT_DNS = re.compile(
    r"^vpce-[0-9a-f]{17}-[a-z0-9]{8}(-[a-z]{2}-[a-z]+-\d[a-z])?\.vpce-svc-[0-9a-f]{17}\."
    r"[a-z]{2}-[a-z]+-\d\.vpce\.amazonaws\.com$"
)
RE_NLB_ARN = re.compile(
    r"^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/net/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
)
RE_NLB_DNS = re.compile(r"^[A-Za-z0-9-]{1,32}-[0-9a-f]{16}\.elb\.[a-z0-9-]+\.amazonaws\.com$")
