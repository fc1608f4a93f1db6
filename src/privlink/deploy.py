"""Deploy planning shared by both targets: where each stack parameter's value comes from.

`bind_parameters` turns a `RenderedStack`'s bindings into concrete values; `describe_bindings`
shows the same mapping without resolving it (for plans and error messages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from privlink.errors import DeployFailed
from privlink.templates.stacks import FromLookup, FromOutput, FromPlan, FromStep, Literal, RenderedStack

Outputs = Mapping[str, Mapping[str, str]]  # stack name -> output name -> value
StepValues = Mapping[str, Mapping[str, str]]  # step name -> key -> value


def account_label_of(binding: object) -> str | None:
    """The account label of a `FromAccount` binding (it may not exist in older stack models)."""
    if type(binding).__name__ != "FromAccount":
        return None
    return str(getattr(binding, "label", None) or getattr(binding, "account", ""))


def describe_binding(binding: object) -> str:
    if isinstance(binding, FromOutput):
        return f"output {binding.output} of {binding.stack}"
    if isinstance(binding, FromStep):
        return f"{binding.key} from step {binding.step}"
    if isinstance(binding, Literal):
        return repr(binding.value)
    if isinstance(binding, FromLookup):
        return f"{binding.kind} of {', '.join(binding.ids)}"
    if isinstance(binding, FromPlan):
        return f"{binding.key} decided by the plan"
    label = account_label_of(binding)
    if label is not None:
        return f"account id of {label}"
    return repr(binding)


def describe_bindings(stack: RenderedStack) -> dict[str, str]:
    """Parameter -> where its value comes from (e.g. `output ServiceName of privlink-x-producer`)."""
    return {name: describe_binding(b) for name, b in stack.parameters.items()}


@dataclass(frozen=True)
class Unresolved:
    parameter: str
    source: str


Lookup = Callable[[RenderedStack, object], str]
"""Fills a `FromLookup` binding by describing existing resources (the aws target's describe calls)."""


def no_lookup(stack: RenderedStack, binding: object) -> str:
    raise DeployFailed(
        stack.stack_name,
        "this stack reuses an existing VPC, which this target cannot describe",
        "give the VPC a cidr instead of an id",
    )


def resolve(
    stack: RenderedStack,
    outputs: Outputs,
    steps: StepValues,
    account_id: Callable[[str], str],
    lookup: Lookup = no_lookup,
    overrides: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[Unresolved]]:
    """The values that can be resolved now, and the parameters that cannot (yet).

    `overrides` (a plan step's values: `FromPlan` decisions, `PrivateDnsEnabled=true`) win over
    the bindings.
    """
    values: dict[str, str] = {}
    missing: list[Unresolved] = []
    overrides = overrides or {}
    for name, binding in stack.parameters.items():
        value: str | None = None
        if name in overrides:
            value = overrides[name]
        elif isinstance(binding, FromPlan):
            value = None
        elif isinstance(binding, FromOutput):
            value = outputs.get(binding.stack, {}).get(binding.output)
        elif isinstance(binding, FromStep):
            value = steps.get(binding.step, {}).get(binding.key)
        elif isinstance(binding, Literal):
            value = binding.value
        elif isinstance(binding, FromLookup):
            value = lookup(stack, binding)
        else:
            label = account_label_of(binding)
            if label is None:
                raise TypeError(f"{stack.stack_name}.{name}: unknown binding {binding!r}")
            value = account_id(label)
        if value is None:
            missing.append(Unresolved(name, describe_binding(binding)))
        else:
            values[name] = value
    return values, missing


def bind_parameters(
    stack: RenderedStack,
    outputs: Outputs,
    steps: StepValues,
    account_id: Callable[[str], str],
    lookup: Lookup = no_lookup,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every parameter's value; `DeployFailed` naming the first one that has none."""
    values, missing = resolve(stack, outputs, steps, account_id, lookup, overrides)
    if missing:
        first = missing[0]
        raise DeployFailed(
            f"{stack.stack_name}.{first.parameter}",
            f"no value yet for {first.source}",
            "deploy the stacks it depends on first (privlink up does so in order)",
        )
    return values
