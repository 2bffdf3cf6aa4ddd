"""A local stack per test module (fresh emulator state), and helpers to publish to it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from stopsms.aws import clients
from stopsms.dal.tables import bind, reset_connections
from stopsms.emulator.stack import EmulatedStack
from stopsms.settings import get_settings

OVERRIDES = {
    "SENDING_WINDOW": "Mon-Sun 00:00-23:59 no-holidays",  # the tests run at any hour
    "INBOUND_BRANDS": "36111=acme",
}


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[EmulatedStack]:
    overrides = {**OVERRIDES, **getattr(request.module, "STACK_OVERRIDES", {})}
    saved = dict(os.environ)
    try:
        with EmulatedStack(overrides=overrides, quiet=True) as local:
            yield local
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.reset()
        reset_connections()


@pytest.fixture(autouse=True)
def _local_environment(stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The root conftest clears AWS_* for every test; put the local stack back."""
    for name, value in {
        **stack.aws_environment(),
        **stack.stack.environment(stack.template),
    }.items():
        monkeypatch.setenv(name, value)
    for name, value in stack.overrides.items():
        monkeypatch.setenv(f"STOPSMS_{name}", value)
    get_settings.cache_clear()
    clients.reset()
    reset_connections()
    bind(get_settings())
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint


def publish(stack: EmulatedStack, queue: str, *bodies: dict[str, object] | str) -> None:
    sqs = stack.client("sqs")
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        sqs.send_message(QueueUrl=stack.queue(queue), MessageBody=text)
