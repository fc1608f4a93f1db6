"""The consumers checks judge: those whose stack exists, and those with their endpoint."""

from __future__ import annotations

from collections.abc import Iterator

from privlink.observe.model import Consumer, Endpoint, Observation


def deployed_consumers(obs: Observation) -> Iterator[Consumer]:
    return (consumer for consumer in obs.consumers if consumer.deployed)


def with_endpoint(obs: Observation) -> Iterator[tuple[Consumer, Endpoint]]:
    """Each deployed consumer whose endpoint exists, with that endpoint."""
    for consumer in deployed_consumers(obs):
        if consumer.endpoint is not None:
            yield consumer, consumer.endpoint
