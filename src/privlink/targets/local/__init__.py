"""The local target: a simulated AWS world that deploys the rendered templates, and a data plane."""
