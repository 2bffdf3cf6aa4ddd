"""Shared fixtures: a moto account whose resources are created from template.yaml itself."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from unittest import mock

import boto3
import pytest
from hypothesis import settings
from moto import mock_aws

from stopsms.aws import clients
from stopsms.dal import tables
from stopsms.emulator import iam, template
from stopsms.emulator.moto_fixes import mend_moto
from stopsms.inbound import replies
from stopsms.settings import Settings, get_settings
from tests.handlers.sms import FakeSms

# No per-example deadline: a first call that loads lazy metadata (phonenumbers, holidays) on a
# busy CI machine is slow, not wrong. Speed is measured by `make bench`, never by tests.
settings.register_profile("stopsms", deadline=None)
settings.load_profile("stopsms")

REGION = "eu-west-3"


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "STOPSMS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StopSMS")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "stopsms")
    get_settings.cache_clear()
    clients.reset()
    # The inbound function looks a second time for an SMS it cannot find yet: not in tests.
    monkeypatch.setattr(replies, "sleep", lambda _seconds: None)


ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def aws() -> Iterator[template.Stack]:
    """A fresh emulated account with every resource of the template, and its settings bound.

    IAM is enforced: a handler loaded with ``load_function`` runs with only its template role
    (``stopsms.emulator.iam``); the test's own calls act as an administrator. A refused call fails
    the test even when the code under test swallowed the error.
    """
    with emulated_account() as stack:
        yield stack


@contextlib.contextmanager
def emulated_account(**parameters: str) -> Iterator[template.Stack]:
    """The ``aws`` fixture's account, deployed with ``parameters`` instead of the template's
    defaults (its roles and its functions' settings follow them, as CloudFormation's would)."""
    deployed = template.load()
    for name, value in parameters.items():
        deployed["Parameters"][name]["Default"] = value
    mend_moto()  # where moto departs from DynamoDB (speed and atomicity)
    with mock_aws():
        stack = template.create(
            {
                name: boto3.client(name, region_name=REGION)
                for name in ("sqs", "sns", "dynamodb", "s3", "secretsmanager")
            }
        )
        enforcement = iam.Enforcement(deployed, stack, REGION, ACCOUNT)
        enforcement.create_users(boto3.client("iam", region_name=REGION))
        env = stack.environment(deployed)
        previous = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        get_settings.cache_clear()
        clients.reset()
        tables.reset_connections()
        tables.bind(get_settings())
        try:
            with enforcement.active():
                yield stack
            assert not enforcement.refusals, "\n".join(map(str, enforcement.refusals))
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()
            tables.bind(Settings())


@pytest.fixture
def fake() -> Iterator[FakeSms]:
    """The fake End User Messaging SMS client every function of the test talks to."""
    sms = FakeSms()
    with mock.patch.object(clients, "sms", return_value=sms):
        yield sms
