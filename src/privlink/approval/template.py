"""The auto-approval template fragment: registry table, Lambda (inline code), role, subscription.

`approval_resources(template, spec, service_ref, topic_ref)` adds the resources to the producer
template when `producer.endpoint_service.auto_approval.registry` is true. Pure: it reads the
handler module's source (a file of this package) and returns nothing but template changes.

Packaging: the function's code is `handler.py` inline (`Code.ZipFile`, which CloudFormation
writes as `index.py` and zips; the resource schema limits that zip to 4 MB, checked with the other
limits in `privlink.templates.limits`), with its docstrings removed and its indentation narrowed,
which keeps the producer template's body (51,200 bytes inline) small; `inline_handler_source()`
checks that the result parses to the same program as the module.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from troposphere import AWSHelperFn, GetAtt, Output, Ref, Sub, Tags, Template
from troposphere.awslambda import Code, Environment, Function, Permission
from troposphere.dynamodb import (
    AttributeDefinition,
    KeySchema,
    PointInTimeRecoverySpecification,
    SSESpecification,
    Table,
)
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup
from troposphere.sns import SubscriptionResource

from privlink.approval.registry import OUT_REGISTRY_TABLE, registry_table_name
from privlink.spec.models import Spec
from privlink.templates.security import skip

RUNTIME = "python3.12"
HANDLER_PATH = Path(__file__).with_name("handler.py")

TABLE_ID = "ApprovalRegistryTable"
ROLE_ID = "ApprovalFunctionRole"
FUNCTION_ID = "ApprovalFunction"
LOG_GROUP_ID = "ApprovalLogGroup"
SUBSCRIPTION_ID = "ApprovalSubscription"
PERMISSION_ID = "ApprovalInvokePermission"


def function_name(link: str) -> str:
    return f"privlink-{link}-approval"


def strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def inline_handler_source(source: str | None = None) -> str:
    """The handler's code as deployed: no docstrings or comments, one space per indent level."""
    text = source if source is not None else HANDLER_PATH.read_text(encoding="utf-8")
    tree = strip_docstrings(ast.parse(text))
    # ast.unparse writes every statement on one line with 4 spaces per level and escapes newlines
    # inside strings, so narrowing the leading indentation cannot change the program.
    lines = []
    for line in ast.unparse(tree).splitlines():
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * (indent // 4) + line.lstrip(" "))
    code = "\n".join(lines) + "\n"
    if ast.dump(ast.parse(code)) != ast.dump(tree):
        raise ValueError("narrowing the handler's indentation changed the program")
    return code


def approval_resources(
    template: Template, spec: Spec, service_ref: AWSHelperFn | str, topic_ref: AWSHelperFn | str
) -> dict[str, Any]:
    """Add the auto-approval resources to the producer template; return them by logical ID.

    `service_ref` is the endpoint service ID (e.g. `Ref(endpoint_service)`), `topic_ref` the ARN
    of the SNS topic its connection notification publishes to (e.g. `Ref(topic)`).
    """
    link = spec.name
    tags = Tags({"privlink:link": link, "privlink:part": "producer"})
    name = function_name(link)
    table = template.add_resource(
        Table(
            TABLE_ID,
            TableName=registry_table_name(link),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[AttributeDefinition(AttributeName="account_id", AttributeType="S")],
            KeySchema=[KeySchema(AttributeName="account_id", KeyType="HASH")],
            SSESpecification=SSESpecification(SSEEnabled=True),
            PointInTimeRecoverySpecification=PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
            # `privlink down` removes everything it created, the registry too (the fixed table name
            # would also make a retained table block the next `up`); export it first with
            # `privlink consumers list --output json`.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Tags=tags,
        )
    )
    skip(table, "CKV_AWS_119")
    log_group = template.add_resource(
        LogGroup(
            LOG_GROUP_ID,
            LogGroupName=f"/aws/lambda/{name}",
            RetentionInDays=30,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Tags=tags,
        )
    )
    skip(log_group, "CKV_AWS_158")
    service_arn = Sub(
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-endpoint-service/${ServiceId}",
        ServiceId=service_ref,
    )
    statements = [
        {"Effect": "Allow", "Action": "ec2:AcceptVpcEndpointConnections", "Resource": service_arn},
        # DescribeVpcEndpointConnections supports no resource-level permissions.
        {"Effect": "Allow", "Action": "ec2:DescribeVpcEndpointConnections", "Resource": "*"},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": GetAtt(table, "Arn")},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": GetAtt(log_group, "Arn"),
        },
    ]
    role = template.add_resource(
        Role(
            ROLE_ID,
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            Policies=[
                Policy(
                    PolicyName="approve-registered-consumers",
                    PolicyDocument={"Version": "2012-10-17", "Statement": statements},
                )
            ],
            Tags=tags,
        )
    )
    function = template.add_resource(
        Function(
            FUNCTION_ID,
            FunctionName=name,
            Description=f"privlink {link}: accept endpoint connections from registered accounts",
            Runtime=RUNTIME,
            Handler="index.lambda_handler",
            Code=Code(ZipFile=inline_handler_source()),
            Role=GetAtt(role, "Arn"),
            Timeout=60,
            MemorySize=128,
            Environment=Environment(Variables={"SERVICE_ID": service_ref, "REGISTRY_TABLE": Ref(table)}),
            DependsOn=[LOG_GROUP_ID],
            Tags=tags,
        )
    )
    skip(function, "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")
    permission = template.add_resource(
        Permission(
            PERMISSION_ID,
            Action="lambda:InvokeFunction",
            FunctionName=GetAtt(function, "Arn"),
            Principal="sns.amazonaws.com",
            SourceArn=topic_ref,
        )
    )
    subscription = template.add_resource(
        SubscriptionResource(
            SUBSCRIPTION_ID,
            Protocol="lambda",
            Endpoint=GetAtt(function, "Arn"),
            TopicArn=topic_ref,
            DependsOn=[PERMISSION_ID],
        )
    )
    template.add_output(Output(OUT_REGISTRY_TABLE, Value=Ref(table)))
    return {
        TABLE_ID: table,
        LOG_GROUP_ID: log_group,
        ROLE_ID: role,
        FUNCTION_ID: function,
        PERMISSION_ID: permission,
        SUBSCRIPTION_ID: subscription,
    }
