"""Diagnoses a deployment: checks `(Observation) -> list[Finding]` in one registry."""

from privlink.doctor.findings import Finding
from privlink.doctor.registry import CHECKS, has_errors, run_checks

__all__ = ["CHECKS", "Finding", "has_errors", "run_checks"]
