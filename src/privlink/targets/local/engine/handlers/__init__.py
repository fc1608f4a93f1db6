"""Resource handlers by CloudFormation type; importing this package registers them all."""

from privlink.targets.local.engine.handlers import (  # noqa: F401
    awslambda,
    clientvpn,
    dynamodb,
    ec2,
    elb,
    iam,
    logs,
    privatelink,
    route53,
    sns,
)
from privlink.targets.local.engine.handlers.base import HANDLERS, Handler, Op, Replace

__all__ = ["HANDLERS", "Handler", "Op", "Replace"]
