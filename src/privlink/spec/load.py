"""Read `privlink.yaml` into a `Spec`, turning every problem into one line that names the field."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from privlink.errors import SpecError
from privlink.spec.models import Spec


def load_spec(path: Path) -> Spec:
    """Load and validate the spec at `path`; raise `SpecError` with a one-line message."""
    if not path.exists():
        raise SpecError(str(path), "no spec file here", "run `privlink init` or pass --spec PATH")
    if path.is_dir():
        raise SpecError(str(path), "is a directory, not a spec file", "pass --spec PATH/privlink.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            str(path), f"is not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise SpecError(
            str(path), f"cannot read: {exc.strerror or exc}", "check the file's permissions"
        ) from None
    return parse_spec(text, source=str(path))


def parse_spec(text: str, source: str = "privlink.yaml") -> Spec:
    """Validate spec text (YAML); raise `SpecError` naming the field and the fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(where, f"YAML syntax error: {problem}", "fix the YAML syntax") from None
    if data is None:
        raise SpecError(source, "the spec is empty", "run `privlink init` to write an example")
    if not isinstance(data, dict):
        raise SpecError(
            source,
            f"the spec must be a mapping of keys, got {type(data).__name__}",
            "start from `privlink init`",
        )
    return validate_spec(data, source)


def validate_spec(data: dict[str, Any], source: str = "privlink.yaml") -> Spec:
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from(exc, data, source) from None
    check_regions(spec, source)
    return spec


def check_regions(spec: Spec, source: str = "privlink.yaml") -> None:
    """Every region the spec names must be one AWS has (botocore's partition data, no network): a
    misspelt region would otherwise be deployed into (the sandbox) or fail late (AWS)."""
    from privlink.partitions import botocore_version, closest_regions, known_regions

    known = known_regions()
    for field, region in spec.region_fields():
        if region in known:
            continue
        near = closest_regions(region)
        if near:
            hint = "did you mean " + " or ".join(repr(r) for r in near) + "?"
        else:
            hint = (
                f"use a region `aws ec2 describe-regions --all-regions` lists; one newer than "
                f"botocore {botocore_version()} needs a newer boto3 (pip install -U boto3)"
            )
        raise SpecError(f"{source}: {field}", f"{region!r} is not an AWS region", hint)


def spec_error_from(exc: ValidationError, data: Any, source: str) -> SpecError:
    """The first validation error as a `SpecError` with the field path and a fix."""
    errors = exc.errors(include_url=False)
    # A typo'd key also makes its intended key "missing": report the typo first.
    error = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    field = format_loc(loc)
    kind = error["type"]
    msg = error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = sorted(model_fields_at(Spec, loc[:-1], data))
        near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(valid)}"
        return SpecError(f"{source}: {field}", f"unknown key {key!r}", hint)
    if kind == "missing":
        return SpecError(f"{source}: {field}", "is required", f"add {loc[-1]!r} to the spec")
    if kind == "literal_error":
        return SpecError(f"{source}: {field}", msg, "use one of the values listed")
    hint = {
        "string_pattern_mismatch": "use lowercase letters, digits and hyphens, starting with a letter",
        "string_type": "use text (quote a value YAML reads as a number, boolean or date)",
        "int_parsing": "use a whole number",
        "int_type": "use a whole number",
        "int_from_float": "use a whole number",
        "float_parsing": "use a number",
        "float_type": "use a number",
        "bool_parsing": "use true or false",
        "bool_type": "use true or false",
        "list_type": "use a YAML list",
        "model_type": "use a mapping of keys",
        "model_attributes_type": "use a mapping of keys",
        "dict_type": "use a mapping of keys",
        "greater_than": "use a larger value",
        "greater_than_equal": "use a larger value",
        "less_than": "use a smaller value",
        "less_than_equal": "use a smaller value",
        "too_short": "add entries",
        "too_long": "remove entries",
    }.get(kind, "compare it with the annotated example `privlink init` writes")
    if field == "":
        field = "(top level)"
    return SpecError(f"{source}: {field}", msg, hint)


def format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_.-]+", str(part)):
            out += f"[{str(part)!r}]"  # a key a user could not otherwise see (spaces, newlines)
        else:
            out += f".{part}" if out else str(part)
    return out


def model_fields_at(model: type[BaseModel], loc: list[Any], data: Any) -> set[str]:
    """The field names valid at `loc` inside `model` (walks nested models and lists)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return set()
        current = inner_model(field.annotation)
        if current is None:
            return set()
    return set(current.model_fields) if isinstance(current, type) else set()


def inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = inner_model(arg)
        if found is not None:
            return found
    return None
