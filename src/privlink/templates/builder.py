"""A template under construction: resources with their extra tags, parameters with their bindings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from troposphere import AWSObject, Output, Parameter, Template

from privlink.templates.stacks import ParamBinding
from privlink.templates.tags import tag_resources

R = TypeVar("R", bound=AWSObject)


@dataclass
class StackBuilder:
    """Collects one stack's template; `finish()` tags every resource and returns the dict."""

    link: str
    part: str  # producer | consumer | vpn
    description: str
    template: Template = field(default_factory=Template)
    bindings: dict[str, ParamBinding] = field(default_factory=dict)
    extra_tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.template.set_version("2010-09-09")
        self.template.set_description(self.description)

    def add(self, resource: R, name: str | None = None, tags: dict[str, str] | None = None) -> R:
        """Add a resource; `name` becomes its Name tag, `tags` are further tags."""
        self.template.add_resource(resource)
        extra = ({"Name": name} if name else {}) | (tags or {})
        if extra:
            self.extra_tags[resource.title] = extra
        return resource

    def parameter(self, name: str, binding: ParamBinding | None = None, **props: Any) -> Parameter:
        """Add a parameter; a `binding` tells the target where its value comes from."""
        from privlink.templates.limits import limit, parameter_overflow

        if len(self.template.parameters) >= limit("parameters").maximum:
            raise parameter_overflow(self.part, f"the {self.part} template")
        param = self.template.add_parameter(Parameter(name, **props))
        if binding is not None:
            self.bindings[name] = binding
        return param

    def output(self, name: str, value: Any, description: str) -> None:
        self.template.add_output(Output(name, Value=value, Description=description))

    def finish(self) -> dict[str, Any]:
        tag_resources(self.template, self.link, self.part, self.extra_tags)
        return self.template.to_dict()
