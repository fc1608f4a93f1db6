"""CloudFormation intrinsic functions, parameters, conditions and ordering, resolved locally.

Pure: a dispatch table of functions over plain data (the idea of aws-sam-cli's
intrinsic_resolver). The engine supplies what a template cannot know (physical IDs, attributes,
AZs, SSM values) through a `Context`.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from privlink.errors import BadInput


class TemplateError(BadInput):
    """The template uses something the sandbox cannot interpret, or is inconsistent."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
PSEUDO_PARAMETERS = {
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
}
SUPPORTED_FUNCTIONS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::GetAZs",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
    "Condition",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
)
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Context:
    """What resolution needs besides the template."""

    region: str
    account_id: str
    stack_name: str
    stack_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> GetAtt
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    azs: Callable[[str], list[str]] = lambda region: []
    where: str = ""  # the logical id being resolved, for messages

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }[name]

    def fail(self, what: str) -> TemplateError:
        return TemplateError(self.where or self.stack_name, what)


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS


def resolve(value: Any, ctx: Context) -> Any:
    """`value` with every intrinsic function evaluated; AWS::NoValue drops keys and list items."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in FUNCTIONS:
                return FUNCTIONS[key](arg, ctx)
            if key.startswith("Fn::"):
                raise ctx.fail(f"unsupported intrinsic function {key}")
        out = {}
        for key, item in value.items():
            resolved = resolve(item, ctx)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out
    if isinstance(value, list):
        return [r for r in (resolve(item, ctx) for item in value) if r is not NO_VALUE]
    return value


def _string(value: Any, ctx: Context, fn: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise ctx.fail(f"{fn} needs a string, got {type(value).__name__} {value!r}")
    return value


def _list(value: Any, ctx: Context, fn: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        shape = f"a list of {length}" if length else "a list"
        raise ctx.fail(f"{fn} needs {shape}, got {value!r}")
    return value


def fn_ref(arg: Any, ctx: Context) -> Any:
    name = _string(arg, ctx, "Ref")
    if name in PSEUDO_PARAMETERS:
        return ctx.pseudo(name)
    if name in ctx.parameters:
        return ctx.parameters[name]
    if name in ctx.refs:
        return ctx.refs[name]
    raise ctx.fail(f"Ref to unknown parameter or resource {name!r}")


def _get_att(logical_id: str, attribute: str, ctx: Context) -> Any:
    if logical_id not in ctx.attributes:
        raise ctx.fail(f"Fn::GetAtt on unknown resource {logical_id!r}")
    attrs = ctx.attributes[logical_id]
    if attribute not in attrs:
        raise ctx.fail(f"Fn::GetAtt {logical_id}.{attribute}: the resource has no attribute {attribute!r}")
    return attrs[attribute]


def fn_get_att(arg: Any, ctx: Context) -> Any:
    if isinstance(arg, str):
        logical_id, _, attribute = arg.partition(".")
        if not attribute:
            raise ctx.fail(f"Fn::GetAtt {arg!r} must be 'Resource.Attribute'")
        return _get_att(logical_id, attribute, ctx)
    items = _list(arg, ctx, "Fn::GetAtt", 2)
    attribute = resolve(items[1], ctx)
    return _get_att(_string(items[0], ctx, "Fn::GetAtt"), _string(attribute, ctx, "Fn::GetAtt"), ctx)


def fn_sub(arg: Any, ctx: Context) -> str:
    if isinstance(arg, str):
        text, variables = arg, {}
    else:
        items = _list(arg, ctx, "Fn::Sub", 2)
        text = _string(items[0], ctx, "Fn::Sub")
        if not isinstance(items[1], dict):
            raise ctx.fail(f"Fn::Sub variables must be a map, got {items[1]!r}")
        variables = {k: resolve(v, ctx) for k, v in items[1].items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return _string(variables[name], ctx, "Fn::Sub")
        if "." in name and name.split(".", 1)[0] in ctx.attributes:
            logical_id, attribute = name.split(".", 1)
            return _string(_get_att(logical_id, attribute, ctx), ctx, "Fn::Sub")
        value = fn_ref(name, ctx)
        if isinstance(value, list):
            raise ctx.fail(f"Fn::Sub cannot insert the list {name!r}; use Fn::Join")
        return _string(value, ctx, "Fn::Sub")

    return _SUB_VAR.sub(substitute, text)


def fn_join(arg: Any, ctx: Context) -> str:
    items = _list(arg, ctx, "Fn::Join", 2)
    delimiter = _string(items[0], ctx, "Fn::Join")
    values = resolve(items[1], ctx)
    values = _list(values, ctx, "Fn::Join")
    return delimiter.join(_string(v, ctx, "Fn::Join") for v in values)


def fn_select(arg: Any, ctx: Context) -> Any:
    items = _list(arg, ctx, "Fn::Select", 2)
    index = resolve(items[0], ctx)
    values = _list(resolve(items[1], ctx), ctx, "Fn::Select")
    try:
        position = int(index)
    except (TypeError, ValueError):
        raise ctx.fail(f"Fn::Select index must be a number, got {index!r}") from None
    if not 0 <= position < len(values):
        raise ctx.fail(f"Fn::Select index {position} is out of range for a list of {len(values)}")
    return values[position]


def fn_split(arg: Any, ctx: Context) -> list[str]:
    items = _list(arg, ctx, "Fn::Split", 2)
    delimiter = _string(items[0], ctx, "Fn::Split")
    if not delimiter:
        raise ctx.fail("Fn::Split needs a non-empty delimiter")
    return _string(resolve(items[1], ctx), ctx, "Fn::Split").split(delimiter)


def fn_get_azs(arg: Any, ctx: Context) -> list[str]:
    region = resolve(arg, ctx)
    region = _string(region, ctx, "Fn::GetAZs") or ctx.region
    return list(ctx.azs(region))


def fn_if(arg: Any, ctx: Context) -> Any:
    items = _list(arg, ctx, "Fn::If", 3)
    name = _string(items[0], ctx, "Fn::If")
    if name not in ctx.conditions:
        raise ctx.fail(f"Fn::If names unknown condition {name!r}")
    return resolve(items[1] if ctx.conditions[name] else items[2], ctx)


def _bool(value: Any, ctx: Context, fn: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    raise ctx.fail(f"{fn} needs a condition, got {value!r}")


def fn_equals(arg: Any, ctx: Context) -> bool:
    left, right = (resolve(v, ctx) for v in _list(arg, ctx, "Fn::Equals", 2))

    def norm(v: Any) -> Any:
        return _string(v, ctx, "Fn::Equals") if isinstance(v, (bool, int, float)) else v

    return norm(left) == norm(right)


def fn_not(arg: Any, ctx: Context) -> bool:
    (item,) = _list(arg, ctx, "Fn::Not", 1)
    return not _bool(resolve(item, ctx), ctx, "Fn::Not")


def fn_and(arg: Any, ctx: Context) -> bool:
    items = _list(arg, ctx, "Fn::And")
    if not 2 <= len(items) <= 10:
        raise ctx.fail("Fn::And takes 2 to 10 conditions")
    return all(_bool(resolve(i, ctx), ctx, "Fn::And") for i in items)


def fn_or(arg: Any, ctx: Context) -> bool:
    items = _list(arg, ctx, "Fn::Or")
    if not 2 <= len(items) <= 10:
        raise ctx.fail("Fn::Or takes 2 to 10 conditions")
    return any(_bool(resolve(i, ctx), ctx, "Fn::Or") for i in items)


def fn_condition(arg: Any, ctx: Context) -> bool:
    name = _string(arg, ctx, "Condition")
    if name not in ctx.conditions:
        raise ctx.fail(f"unknown condition {name!r}")
    return ctx.conditions[name]


def fn_base64(arg: Any, ctx: Context) -> str:
    return base64.b64encode(_string(resolve(arg, ctx), ctx, "Fn::Base64").encode()).decode()


def fn_cidr(arg: Any, ctx: Context) -> list[str]:
    block, count, bits = (resolve(v, ctx) for v in _list(arg, ctx, "Fn::Cidr", 3))
    try:
        network = ipaddress.ip_network(_string(block, ctx, "Fn::Cidr"), strict=False)
        count, bits = int(count), int(bits)
    except ValueError as exc:
        raise ctx.fail(f"Fn::Cidr: {exc}") from None
    prefix = network.max_prefixlen - bits
    if not 1 <= count <= 256 or prefix < network.prefixlen:
        raise ctx.fail(f"Fn::Cidr cannot cut {count} /{prefix} blocks from {network}")
    subnets = []
    for subnet in network.subnets(new_prefix=prefix):
        subnets.append(str(subnet))
        if len(subnets) == count:
            return subnets
    raise ctx.fail(f"Fn::Cidr: {network} has fewer than {count} /{prefix} blocks")


def fn_find_in_map(arg: Any, ctx: Context) -> Any:
    name, top, second = (
        _string(resolve(v, ctx), ctx, "Fn::FindInMap") for v in _list(arg, ctx, "Fn::FindInMap", 3)
    )
    try:
        return ctx.mappings[name][top][second]
    except (KeyError, TypeError):
        raise ctx.fail(f"Fn::FindInMap: no {name}/{top}/{second} in Mappings") from None


FUNCTIONS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": fn_ref,
    "Fn::GetAtt": fn_get_att,
    "Fn::Sub": fn_sub,
    "Fn::Join": fn_join,
    "Fn::Select": fn_select,
    "Fn::Split": fn_split,
    "Fn::GetAZs": fn_get_azs,
    "Fn::If": fn_if,
    "Fn::Equals": fn_equals,
    "Fn::Not": fn_not,
    "Fn::And": fn_and,
    "Fn::Or": fn_or,
    "Condition": fn_condition,
    "Fn::Base64": fn_base64,
    "Fn::Cidr": fn_cidr,
    "Fn::FindInMap": fn_find_in_map,
}


# --- conditions ---------------------------------------------------------------------------


def evaluate_conditions(template: dict[str, Any], ctx: Context) -> dict[str, bool]:
    """Every condition of the template (conditions may name each other; cycles are an error)."""
    definitions = template.get("Conditions", {}) or {}
    results: dict[str, bool] = {}
    visiting: set[str] = set()

    class Lazy(dict):
        def __contains__(self, name: object) -> bool:
            return name in definitions

        def __getitem__(self, name: str) -> bool:
            return evaluate(name)

    def evaluate(name: str) -> bool:
        if name in results:
            return results[name]
        if name in visiting:
            raise TemplateError(f"Conditions.{name}", "condition refers to itself through other conditions")
        visiting.add(name)
        saved, ctx.where = ctx.where, f"Conditions.{name}"
        value = _bool(resolve(definitions[name], ctx), ctx, "condition")
        ctx.where = saved
        visiting.discard(name)
        results[name] = value
        return value

    ctx.conditions = Lazy()
    for name in definitions:
        evaluate(name)
    ctx.conditions = results
    return results


# --- parameters ---------------------------------------------------------------------------

SsmLookup = Callable[[str], str]
IdCheck = Callable[[str, str], bool]  # (AWS type such as AWS::EC2::VPC::Id, value) -> exists


def resolve_parameters(
    template: dict[str, Any],
    given: dict[str, str],
    ssm: SsmLookup,
    id_exists: IdCheck | None = None,
) -> dict[str, Any]:
    """Parameter values (lists for list types) after defaults, SSM lookups and AWS's checks."""
    declared = template.get("Parameters", {}) or {}
    for name in given:
        if name not in declared:
            raise BadInput(f"parameter {name}", "the template declares no such parameter")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        where = f"parameter {name}"
        ptype = spec.get("Type", "String")
        if name in given:
            raw = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise BadInput(where, "no value given and the parameter has no default")
        raw = _string(raw, Context("", "", "", "", where=where), "parameter")
        if ptype.startswith("AWS::SSM::Parameter::Value<") and ptype.endswith(">"):
            inner = ptype[len("AWS::SSM::Parameter::Value<") : -1]
            try:
                raw = ssm(raw)
            except KeyError:
                raise BadInput(where, f"SSM parameter {raw!r} does not exist (ParameterNotFound)") from None
            ptype = inner
        values[name] = _typed_value(where, ptype, raw, spec, id_exists)
    return values


def _typed_value(where: str, ptype: str, raw: str, spec: dict[str, Any], id_exists: IdCheck | None) -> Any:
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    if ptype == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise BadInput(where, f"{raw!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise BadInput(where, f"{raw} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise BadInput(where, f"{raw} is above MaxValue {spec['MaxValue']}")
        _check_allowed(where, raw, allowed)
        return raw
    if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
        items = [item.strip() for item in raw.split(",")] if raw != "" else []
        element = ptype[5:-1] if ptype.startswith("List<") else "String"
        for item in items:
            _check_allowed(where, item, allowed)
            _check_id(where, element, item, id_exists)
        return items
    if ptype != "String" and not ptype.startswith("AWS::"):
        raise TemplateError(where, f"unsupported parameter type {ptype}")
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        raise BadInput(where, f"{raw!r} is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        raise BadInput(where, f"{raw!r} is longer than MaxLength {spec['MaxLength']}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], raw):
        message = spec.get("ConstraintDescription") or f"must match pattern {spec['AllowedPattern']}"
        raise BadInput(where, f"{raw!r} {message}")
    _check_allowed(where, raw, allowed)
    _check_id(where, ptype, raw, id_exists)
    return raw


def _check_allowed(where: str, value: str, allowed: list[str]) -> None:
    if allowed and value not in allowed:
        raise BadInput(where, f"{value!r} is not one of the allowed values {', '.join(allowed)}")


def _check_id(where: str, ptype: str, value: str, id_exists: IdCheck | None) -> None:
    if (
        ptype.startswith("AWS::")
        and ptype != "String"
        and id_exists is not None
        and not id_exists(ptype, value)
    ):
        raise BadInput(where, f"{value!r} is not an existing {ptype} in this account and region")


# --- dependencies and order ---------------------------------------------------------------


def references(value: Any, names: set[str]) -> set[str]:
    """Logical IDs among `names` that `value` refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str) and arg in names:
                    found.add(arg)
                    return
                if key == "Fn::GetAtt":
                    target = arg.split(".", 1)[0] if isinstance(arg, str) else (arg[0] if arg else None)
                    if target in names:
                        found.add(target)
                    if isinstance(arg, list):
                        walk(arg[1:])
                    return
                if key == "Fn::Sub":
                    text = arg if isinstance(arg, str) else (arg[0] if arg else "")
                    local = (
                        set(arg[1])
                        if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict)
                        else set()
                    )
                    for var in _SUB_VAR.findall(text if isinstance(text, str) else ""):
                        if var.startswith("!") or var in local:
                            continue
                        base = var.split(".", 1)[0]
                        if base in names:
                            found.add(base)
                    if isinstance(arg, list):
                        walk(arg[1:])
                    return
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found


def dependency_graph(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Each resource's dependencies: DependsOn plus implicit references."""
    names = set(resources)
    graph: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        deps = references(body.get("Properties", {}), names)
        depends_on = body.get("DependsOn", [])
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        for dep in depends_on:
            if dep not in names:
                raise TemplateError(f"Resources.{logical_id}", f"DependsOn names unknown resource {dep!r}")
            deps.add(dep)
        if logical_id in deps:
            raise TemplateError(f"Resources.{logical_id}", "the resource refers to itself")
        graph[logical_id] = deps
    return graph


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Logical IDs in an order where each comes after what it depends on (template order breaks ties)."""
    graph = dependency_graph(resources)
    order: list[str] = []
    done: set[str] = set()
    remaining = list(resources)
    while remaining:
        ready = [r for r in remaining if graph[r] <= done]
        if not ready:
            cycle = ", ".join(sorted(remaining))
            raise TemplateError("Resources", f"circular dependency between resources: {cycle}")
        for logical_id in ready:
            order.append(logical_id)
            done.add(logical_id)
        remaining = [r for r in remaining if r not in done]
    return order


def unsupported_functions(value: Any) -> set[str]:
    """Intrinsic function names in `value` the resolver does not implement."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                key = next(iter(node))
                if key.startswith("Fn::") and key not in FUNCTIONS:
                    found.add(key)
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found
