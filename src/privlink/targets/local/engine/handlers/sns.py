"""SNS topics, topic policies and subscriptions (enough for PrivateLink connection notifications)."""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, Replace, register, remove, tags_of
from privlink.targets.local.world import Resource, SimulatedAwsError

TOPIC = "AWS::SNS::Topic"
TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@register
class TopicHandler(Handler):
    """Ref: the topic ARN; GetAtt TopicArn, TopicName."""

    type = TOPIC
    create_only = frozenset({"TopicName", "FifoTopic"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        name = props.get("TopicName") or op.generated_name(256)
        if not TOPIC_NAME.match(name):
            raise SimulatedAwsError(
                "InvalidParameter",
                "Invalid parameter: Topic Name must be made up of only "
                "uppercase and lowercase ASCII letters, numbers, underscores, and hyphens",
            )
        arn = f"arn:aws:sns:{op.region}:{op.account_id}:{name}"
        if any(t.id == arn for t in op.world.of_type(TOPIC)):
            raise SimulatedAwsError("AlreadyExists", f"Topic {name} already exists in the stack's account")
        return op.add(TOPIC, arn, props, {"TopicArn": arn, "TopicName": name}, {"tags": tags_of(props)})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        # SNS deletes a topic with its subscriptions; notifications pointing at it stop delivering.
        for sub in [s for s in op.world.of_type(SUBSCRIPTION) if s.data.get("topic_arn") == res.id]:
            remove(op.world, sub)
        remove(op.world, res)


@register
class TopicPolicyHandler(Handler):
    """Ref: a generated ID (CloudFormation's physical ID for topic policies)."""

    type = "AWS::SNS::TopicPolicy"
    required = ("PolicyDocument", "Topics")

    def _topics(self, op: Op, props: dict[str, Any]) -> list[str]:
        topics = list(props["Topics"])
        for arn in topics:
            op.find(arn, TOPIC, "topic", "NotFound")
        return topics

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        topics = self._topics(op, props)
        policy_id = op.generated_name(256)
        return op.add(self.type, policy_id, props, {"Id": policy_id}, {"topics": topics})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        res.data["topics"] = self._topics(op, new)
        res.properties = new


SUBSCRIPTION = "AWS::SNS::Subscription"
PROTOCOLS = {"http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"}


@register
class SubscriptionHandler(Handler):
    """Ref: the subscription ARN (`<topic arn>:<uuid>`)."""

    type = SUBSCRIPTION
    required = ("Protocol", "TopicArn")
    create_only = frozenset({"Endpoint", "Protocol", "TopicArn"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        topic = op.find(props["TopicArn"], TOPIC, "topic", "NotFound")
        if props["Protocol"] not in PROTOCOLS:
            raise SimulatedAwsError("InvalidParameter", f"Invalid parameter: Protocol {props['Protocol']}")
        if props["Protocol"] == "lambda":
            function_arn = props.get("Endpoint")
            if not any(f.attributes.get("Arn") == function_arn for f in op.world.of_type(LAMBDA)):
                raise SimulatedAwsError("InvalidParameter", f"Invalid parameter: Endpoint {function_arn}")
        arn = f"{topic.id}:{op.world.ids.uuid()}"
        return op.add(self.type, arn, props, {"Arn": arn}, {"topic_arn": topic.id})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        if any(old.get(k) != new.get(k) for k in self.create_only):
            raise Replace()
        res.properties = new


LAMBDA = "AWS::Lambda::Function"
