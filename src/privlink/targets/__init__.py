"""Targets deploy the rendered stacks: `aws` (boto3) and `local` (the embedded sandbox)."""
