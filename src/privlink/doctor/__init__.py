"""Diagnoses a deployment: checks `(Observation) -> list[Finding]` in one registry."""

from privlink.doctor.findings import Finding
from privlink.doctor.registry import CHECKS, Diagnosis, diagnose, has_errors, run_checks

__all__ = ["CHECKS", "Diagnosis", "Finding", "diagnose", "has_errors", "run_checks"]
