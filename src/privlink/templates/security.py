"""Security-scan (checkov) findings the templates deliberately do not follow, with the reason.

`skip(resource, *check_ids)` records them in the resource's Metadata as checkov reads it from
CloudFormation (`Metadata: {checkov: {skip: [{id, comment}]}}`). Every reason is here, once, so a
review sees them all; tests/templates/test_checkov.py runs checkov over the rendered templates and
asserts that nothing else fails.
"""

from __future__ import annotations

from troposphere import AWSObject

REASONS = {
    # NLB
    "CKV_AWS_91": (
        "NLB access logs are written only for TLS listeners (ELB docs); this NLB has only a TCP listener, "
        "so access logging would record nothing"
    ),
    # SNS topic of endpoint connection notifications
    "CKV_AWS_26": (
        "The topic carries endpoint connection events (endpoint and account IDs, no secrets); encrypting it "
        "needs a customer-managed KMS key whose policy lets vpce.amazonaws.com use it (the AWS-managed SNS "
        "key cannot grant that), a per-link key not worth its cost for this data"
    ),
    # CloudWatch log groups (Client VPN connections, the approval function)
    "CKV_AWS_158": (
        "CloudWatch Logs encrypts log data at rest by default; a customer-managed KMS key (monthly cost, a "
        "key policy for the logs service) is not needed for connection and function logs without secrets"
    ),
    # DynamoDB approval registry
    "CKV_AWS_119": (
        "Encrypted at rest with the AWS-managed key (SSESpecification); the registry holds account IDs and "
        "principal ARNs, no secrets, so a customer-managed key would add cost and key administration only"
    ),
    # Lambda approval function
    "CKV_AWS_115": (
        "Reserving concurrency fails the deploy in accounts whose concurrency quota is at Lambda's "
        "unreserved minimum (common in new accounts); the function runs once per connection event"
    ),
    "CKV_AWS_116": (
        "A failed approval leaves the connection pendingAcceptance, listed by privlink connections and "
        "logged by the function; a dead-letter queue would be a resource nobody reads"
    ),
    "CKV_AWS_117": (
        "The function only calls the EC2 and DynamoDB APIs; the producer VPC has no internet route by "
        "design, so inside it the function would need EC2, Logs and DynamoDB VPC endpoints (cost, no gain)"
    ),
    "CKV_AWS_173": (
        "The variables are the endpoint service ID and the registry table name, not secrets; Lambda "
        "encrypts environment variables at rest with its AWS-managed key"
    ),
}


def skip(resource: AWSObject, *check_ids: str) -> AWSObject:
    """Add checkov skips (with their `REASONS`) to the resource's Metadata; returns the resource."""
    metadata = dict(resource.resource.get("Metadata") or {})
    checkov = dict(metadata.get("checkov") or {})
    skips = list(checkov.get("skip") or [])
    for check_id in check_ids:
        skips.append({"id": check_id, "comment": REASONS[check_id]})
    checkov["skip"] = skips
    metadata["checkov"] = checkov
    resource.Metadata = metadata
    return resource
