"""CloudFormation's limits on one template, checked when privlink renders (`render`, `plan`, `up`).

Source: the CloudFormation quotas page, "Understand CloudFormation quotas"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
template body size in a request 51,200 bytes, 200 parameters, 500 resources, 200 outputs (cfn-lint's
`cfnlint.helpers.LIMITS` carries the same counts; a test compares them). The Lambda inline-code
limit is what the `AWS::Lambda::Function` resource schema says of `Code.ZipFile`: "This zip file
cannot exceed 4MB" (the schema sets no maxLength; the 4,096 characters privlink once checked are
gone from it).

`check_limits(stacks)` raises `SpecError` (exit 2) for the first limit a stack passes, in one line
naming the limit and what to change. The aws deployer measures the body with `template_body`, so
what is checked here is what it sends.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from privlink.errors import SpecError
from privlink.templates.stacks import RenderedStack

QUOTAS_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
LAMBDA_SCHEMA = "AWS::Lambda::Function resource schema, Code.ZipFile (cfn-lint 1.58)"


def template_body(template: dict[str, Any]) -> str:
    """The template as privlink sends it (`TemplateBody`): compact JSON."""
    return json.dumps(template, separators=(",", ":"))


def body_size(template: dict[str, Any]) -> int:
    return len(template_body(template).encode())


def count(section: str) -> Callable[[dict[str, Any]], int]:
    return lambda template: len(template.get(section) or {})


def inline_zip_size(code: str) -> int:
    """The size of the zip CloudFormation makes of inline code (one file, `index.py`, deflated)."""
    buffer = io.BytesIO()
    entry = zipfile.ZipInfo("index.py", date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(entry, code)
    return len(buffer.getvalue())


def largest_inline_code(template: dict[str, Any]) -> int:
    sizes = [
        inline_zip_size(code)
        for resource in (template.get("Resources") or {}).values()
        if resource.get("Type") == "AWS::Lambda::Function"
        and isinstance(code := ((resource.get("Properties") or {}).get("Code") or {}).get("ZipFile"), str)
    ]
    return max(sizes, default=0)


@dataclass(frozen=True)
class Limit:
    """One limit: what it counts, its maximum, the unit, where the figure comes from, how privlink
    measures a template against it, and what a user changes per stack part (producer, consumer, vpn)."""

    name: str
    maximum: int
    unit: str
    source: str
    measure: Callable[[dict[str, Any]], int]
    fix: dict[str, str]

    def over(self, template: dict[str, Any]) -> int | None:
        value = self.measure(template)
        return value if value > self.maximum else None


FEWER_AZS = "use fewer AZs (vpc.azs)"

LIMITS: tuple[Limit, ...] = (
    Limit(
        "template body",
        51_200,
        "bytes",
        f"{QUOTAS_PAGE} (Template body size in a request); a larger body needs S3 (TemplateURL)",
        body_size,
        {
            "producer": "list fewer producer.service.targets or allowed principals (each consumer's "
            "principal or account is one), or use fewer producer.vpc.azs",
            "consumer": FEWER_AZS,
            "vpn": FEWER_AZS,
        },
    ),
    Limit(
        "parameters",
        200,
        "parameters",
        f"{QUOTAS_PAGE} (Parameters)",
        count("Parameters"),
        {
            "producer": "each consumer account without a principal is one account-ID parameter: give "
            "those consumers a `principal:` ARN, or onboard many accounts with consumers_from",
            "consumer": "split the consumer",
            "vpn": "split the consumer",
        },
    ),
    Limit(
        "resources",
        500,
        "resources",
        f"{QUOTAS_PAGE} (Resources)",
        count("Resources"),
        {part: FEWER_AZS for part in ("producer", "consumer", "vpn")},
    ),
    Limit(
        "outputs",
        200,
        "outputs",
        f"{QUOTAS_PAGE} (Outputs)",
        count("Outputs"),
        {part: FEWER_AZS for part in ("producer", "consumer", "vpn")},
    ),
    Limit(
        "Lambda inline code (zipped)",
        4 * 1024 * 1024,
        "bytes",
        f'{LAMBDA_SCHEMA}: "This zip file cannot exceed 4MB"',
        largest_inline_code,
        {
            part: "ship the function's code from S3 instead of inline"
            for part in ("producer", "consumer", "vpn")
        },
    ),
)


def limit(name: str) -> Limit:
    return next(item for item in LIMITS if item.name == name)


def problem(stack: RenderedStack) -> SpecError | None:
    """The first limit the stack's template passes, as the error `check_limits` raises. Inline
    code sits in the template body, so the body's limit is met long before the code's."""
    for item in LIMITS:
        value = item.over(stack.template)
        if value is None:
            continue
        what = f"{item.name}: {value:,} {item.unit}, over CloudFormation's {item.maximum:,}"
        hint = item.fix.get(stack.name.part, FEWER_AZS)
        if (stack.name.part, item.name) == ("producer", "parameters"):
            return SpecError("consumers", f"{stack.stack_name} {what}", hint)  # the field that grows it
        return SpecError(stack.stack_name, what, hint)
    return None


def parameter_overflow(part: str, stack: str) -> SpecError:
    """The error for a template that would declare more parameters than CloudFormation allows
    (raised while rendering: troposphere itself refuses the 201st parameter)."""
    item = limit("parameters")
    what = f"{stack} parameters: more than {item.maximum:,}, CloudFormation's limit"
    return SpecError("consumers" if part == "producer" else stack, what, item.fix.get(part, FEWER_AZS))


def check_limits(stacks: Iterable[RenderedStack]) -> None:
    """Raise `SpecError` for the first stack whose template passes one of `LIMITS`."""
    for stack in stacks:
        found = problem(stack)
        if found is not None:
            raise found
