"""Resource handlers by CloudFormation type; importing this package registers them all."""

from privlink.targets.local.engine.handlers import clientvpn, ec2, elb, privatelink, route53  # noqa: F401
from privlink.targets.local.engine.handlers.base import HANDLERS, Handler, Op, Replace

__all__ = ["HANDLERS", "Handler", "Op", "Replace"]
