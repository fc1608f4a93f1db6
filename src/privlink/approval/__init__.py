"""Serving many consumers: the auto-approval Lambda, its consumer registry and template fragment."""
