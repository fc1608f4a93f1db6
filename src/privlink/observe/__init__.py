"""What is deployed, as plain data (`Observation`), and the builders that fill it in."""

from privlink.observe.model import Observation

__all__ = ["Observation"]
