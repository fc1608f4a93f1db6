"""The spec: models, loading, and the demo topology."""

from privlink.spec.load import load_spec, parse_spec, validate_spec
from privlink.spec.models import Consumer, Producer, Spec

__all__ = ["Consumer", "Producer", "Spec", "load_spec", "parse_spec", "validate_spec"]
