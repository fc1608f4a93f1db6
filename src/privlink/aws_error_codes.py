"""AWS error codes privlink treats alike: the gateway's hints and the doctor's fixes read them here.

It imports nothing, so the doctor can use it without pulling in boto3 or the gateway.
"""

from __future__ import annotations

ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
    }
)
THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
EXPIRED_CREDENTIALS = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
