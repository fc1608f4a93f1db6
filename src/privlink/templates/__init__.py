"""Pure functions from the spec to CloudFormation templates (troposphere). No I/O here."""
