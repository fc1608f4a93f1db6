"""The one way privlink reaches AWS: sessions per account label, clients per (label, region).

Retries and throttling back-off are configured here only; `ClientError`s and missing credentials
are turned into `AwsError`s with a one-line message and a hint. No other module calls
`boto3.client(`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from privlink.aws_error_codes import ACCESS_DENIED, EXPIRED_CREDENTIALS, THROTTLED
from privlink.errors import AwsError, BadInput
from privlink.spec.models import Account, Spec

RETRY_CONFIG = {"max_attempts": 10, "mode": "adaptive"}
SESSION_NAME = "privlink"

SessionFactory = Callable[..., Any]
"""Builds a boto3-like Session: `factory(profile_name=None, region_name=None, **credentials)`."""


def boto3_session(**kwargs: Any) -> Any:
    import boto3

    return boto3.session.Session(**kwargs)


def refreshing_botocore_session(fetch: Callable[[], dict[str, str]]) -> Any:
    """A botocore session whose credentials come from `fetch` and are refreshed before expiry."""
    from botocore.credentials import RefreshableCredentials
    from botocore.session import get_session

    session = get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    return session


def client_config() -> Any:
    from botocore.config import Config

    return Config(retries=dict(RETRY_CONFIG), connect_timeout=10, read_timeout=60)


def iam_parts(client: Any, service: str, op: str) -> tuple[str, str]:
    """The IAM service prefix and action of a boto3 method: ("elasticloadbalancing",
    "DescribeTargetHealth") for elbv2's describe_target_health. The names a policy, the AccessDenied
    message and CloudTrail use, not boto3's."""
    meta = getattr(client, "meta", None)
    try:
        return meta.service_model.signing_name, meta.method_to_api_mapping[op]
    except (AttributeError, KeyError):
        return service, "".join(word.capitalize() for word in op.split("_"))


def iam_action(client: Any, service: str, op: str) -> str:
    """The IAM action of a boto3 method, e.g. elasticloadbalancing:DescribeTargetHealth."""
    return ":".join(iam_parts(client, service, op))


def aws_error(exc: Exception, service: str, action: str, account: str, region: str) -> AwsError:
    """An `AwsError` for a failed call: one line naming the call, plus what to do about it.

    `service` and `action` are the IAM names (`iam_parts`), so the hint's grant is one a policy takes.
    """
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

    where = f"aws {service}:{action} ({account}, {region})"
    if isinstance(exc, NoCredentialsError):
        return AwsError(
            where,
            "no AWS credentials found",
            f"set accounts.{account}.profile (or role_arn) in the spec, or export AWS credentials",
            code="NoCredentials",
        )
    if isinstance(exc, ProfileNotFound):
        return AwsError(
            where,
            str(exc),
            f"fix accounts.{account}.profile in the spec or add the profile to ~/.aws/config",
            code="ProfileNotFound",
        )
    if isinstance(exc, NoRegionError):
        return AwsError(where, "no region given", "set the region in the spec", code="NoRegion")
    if not isinstance(exc, ClientError):
        return AwsError(where, f"{type(exc).__name__}: {exc}", code=type(exc).__name__)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = " ".join(str(error.get("Message", "")).split())
    return AwsError(
        where,
        f"{code}: {message}" if message else code,
        hint_for(code, message, service, action, account),
        code,
    )


def hint_for(code: str, message: str, service: str, action: str, account: str) -> str | None:
    """What the user can do about an AWS error code."""
    text = f"{code} {message}"
    if "AllowMultiRegion" in text or (code in ACCESS_DENIED and "region" in message.lower()):
        return (
            "cross-region PrivateLink needs the permission-only action vpce:AllowMultiRegion; "
            f"grant it to the identity used for account {account}"
        )
    if code in ACCESS_DENIED:
        return f"grant {service}:{action} to the identity used for account {account} (accounts.{account})"
    if code in EXPIRED_CREDENTIALS:
        return f"refresh the credentials of accounts.{account} (e.g. aws sso login --profile ...)"
    if code in ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"):
        return f"the credentials of accounts.{account} are not valid; check the profile or role"
    if code in THROTTLED:
        return "AWS is throttling requests; wait a minute and run the same command again"
    if code == "InvalidServiceName":
        return (
            "the consumer is not an allowed principal of the endpoint service, or a cross-region "
            "endpoint lacks ServiceRegion; check producer.endpoint_service.allowed_principals"
        )
    return None


class ClientProxy:
    """A boto3 client whose calls raise `AwsError` instead of botocore exceptions.

    `raw` is the underlying client (for waiters, paginators and `exceptions`).
    """

    def __init__(self, raw: Any, service: str, account: str, region: str) -> None:
        self.raw = raw
        self.service = service
        self.account = account
        self.region = region

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if not callable(attr) or name in ("get_paginator", "get_waiter", "can_paginate"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return attr(*args, **kwargs)
            except (ClientError, BotoCoreError) as exc:
                prefix, action = iam_parts(self.raw, self.service, name)
                raise aws_error(exc, prefix, action, self.account, self.region) from exc

        return call

    def paginate(self, operation: str, result_key: str, **kwargs: Any) -> list[Any]:
        """Every item under `result_key` across all pages of `operation`."""
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[Any] = []
        try:
            for page in self.raw.get_paginator(operation).paginate(**kwargs):
                items.extend(page.get(result_key, []))
        except (ClientError, BotoCoreError) as exc:
            prefix, action = iam_parts(self.raw, self.service, operation)
            raise aws_error(exc, prefix, action, self.account, self.region) from exc
        return items


class Gateway:
    """Sessions and clients for the spec's account labels; thread-safe, cached."""

    def __init__(
        self,
        accounts: dict[str, Account],
        session_factory: SessionFactory = boto3_session,
        default_region: str = "us-east-1",
    ) -> None:
        self.accounts = accounts
        self.session_factory = session_factory
        self.default_region = default_region
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str], ClientProxy] = {}
        self._account_ids: dict[str, str] = {}
        self._lock = threading.RLock()

    def account_config(self, label: str) -> Account:
        return self.accounts.get(label) or Account()

    def session(self, label: str) -> Any:
        with self._lock:
            if label not in self._sessions:
                self._sessions[label] = self._new_session(label)
            return self._sessions[label]

    def _new_session(self, label: str) -> Any:
        config = self.account_config(label)
        if config.role_arn:
            base = self.session_factory(region_name=self.default_region)
            sts = ClientProxy(
                base.client("sts", region_name=self.default_region, config=client_config()),
                "sts",
                label,
                self.default_region,
            )
            kwargs: dict[str, Any] = {"RoleArn": config.role_arn, "RoleSessionName": SESSION_NAME}
            if config.external_id:
                kwargs["ExternalId"] = config.external_id

            def fetch() -> dict[str, str]:
                creds = sts.assume_role(**kwargs)["Credentials"]
                return {
                    "access_key": creds["AccessKeyId"],
                    "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"],
                    "expiry_time": creds["Expiration"].isoformat(),
                }

            # Refreshed before they expire: a long `up` (Client VPN, cross-region) can outlast one hour.
            return self.session_factory(
                botocore_session=refreshing_botocore_session(fetch), region_name=self.default_region
            )
        try:
            return self.session_factory(profile_name=config.profile, region_name=self.default_region)
        except Exception as exc:
            raise aws_error(exc, "sts", "session", label, self.default_region) from exc

    def client(self, service: str, label: str, region: str) -> ClientProxy:
        """A cached client for `service` in account `label` and `region`."""
        key = (service, label, region)
        with self._lock:
            if key not in self._clients:
                if label not in self.accounts and self.accounts:
                    raise BadInput(
                        f"accounts.{label}",
                        "no credentials configured for this account label",
                        f"add accounts.{label}: {{profile: ...}} or {{role_arn: ...}} to the spec",
                    )
                raw = self.session(label).client(service, region_name=region, config=client_config())
                self._clients[key] = ClientProxy(raw, service, label, region)
            return self._clients[key]

    def account_id(self, label: str) -> str:
        """The 12-digit account ID behind a label (spec's account_id, else STS GetCallerIdentity)."""
        with self._lock:
            if label in self._account_ids:
                return self._account_ids[label]
        configured = self.account_config(label).account_id
        found = configured or self.client("sts", label, self.default_region).get_caller_identity()["Account"]
        with self._lock:
            self._account_ids[label] = found
        return found


def client_factory(
    spec: Spec, session_factory: SessionFactory = boto3_session
) -> Callable[[str, str, str], ClientProxy]:
    """`(service, account label, region) -> client` for commands that need a few AWS clients outside
    a target (e.g. `privlink consumers` on the registry table): a `Gateway` over the spec's accounts.

    The clients raise `AwsError` (one line, a hint) instead of botocore exceptions.
    """
    return Gateway(spec.accounts, session_factory, default_region=spec.producer.region).client
