"""A deployed stack, read by name: the operator commands find its tables, queues and settings in
its outputs and parameters instead of ``STOPSMS_*`` variables exported by hand.

The functions receive the same settings from the template's ``Globals`` environment;
tests/unit/test_deployed.py checks that every one of those an operator command reads is mapped
here, so a new setting cannot be forgotten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stopsms.errors import StopSmsError

# Output of the stack -> the setting the functions receive from the same resource.
OUTPUT_SETTINGS = {
    "ContactStateTableName": "STOPSMS_CONTACT_STATE_TABLE",
    "EvidenceTableName": "STOPSMS_EVIDENCE_TABLE",
    "CampaignsTableName": "STOPSMS_CAMPAIGNS_TABLE",
    "DeliveriesTableName": "STOPSMS_DELIVERIES_TABLE",
    "IdempotencyTableName": "STOPSMS_IDEMPOTENCY_TABLE",
    "CampaignQueueUrl": "STOPSMS_CAMPAIGN_QUEUE_URL",
    "SendQueueUrl": "STOPSMS_SEND_QUEUE_URL",
    "ErasureKeyArn": "STOPSMS_ERASURE_KEY_SECRET",
}

# Parameter of the stack -> the setting it becomes (the template's Globals environment).
PARAMETER_SETTINGS = {
    "StopNumber": "STOPSMS_STOP_NUMBER",
    "OriginationIdentity": "STOPSMS_ORIGINATION_IDENTITY",
    "ConsentPolicy": "STOPSMS_CONSENT_POLICY",
    "SendingWindow": "STOPSMS_SENDING_WINDOW",
    "HolidaysCountry": "STOPSMS_HOLIDAYS_COUNTRY",
    "InboundBrands": "STOPSMS_INBOUND_BRANDS",
    "SmartEncoding": "STOPSMS_SMART_ENCODING",
    "SendRatePerSecond": "STOPSMS_SEND_RATE",
    "OptOutConfirmation": "STOPSMS_OPT_OUT_CONFIRMATION",
    "MirrorOptOuts": "STOPSMS_MIRROR_OPT_OUTS",
    "OptOutListName": "STOPSMS_OPT_OUT_LIST",
    "RetentionDays": "STOPSMS_RETENTION_DAYS",
    "PriceTable": "STOPSMS_PRICE_TABLE",
}


class StackNotFound(StopSmsError):
    """The stack named on the command line is not in this account and region."""


def describe(name: str) -> dict[str, Any]:
    """The stack ``name`` as CloudFormation describes it (outputs and parameters)."""
    import boto3  # the operator's tooling; the functions never read a stack
    from botocore.exceptions import ClientError

    client = boto3.client("cloudformation")
    try:
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            region = client.meta.region_name
            raise StackNotFound(
                f"no stack {name!r} in {region}: check --stack-name and --region "
                "(`aws cloudformation list-stacks` lists them)"
            ) from None
        raise
    return dict(stacks[0])


def outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def parameters(stack: Mapping[str, Any]) -> dict[str, str]:
    return {
        item["ParameterKey"]: item.get("ResolvedValue", item.get("ParameterValue", ""))
        for item in stack.get("Parameters", [])
    }


def environment(stack: Mapping[str, Any]) -> dict[str, str]:
    """The ``STOPSMS_*`` settings of ``stack``, as its functions have them."""
    found = outputs(stack)
    given = parameters(stack)
    settings = {name: found[key] for key, name in OUTPUT_SETTINGS.items() if key in found}
    settings.update({name: given[key] for key, name in PARAMETER_SETTINGS.items() if key in given})
    if given.get("PriceTableObject"):  # the sender reads the object when one is given
        settings["STOPSMS_PRICE_TABLE"] = given["PriceTableObject"]
    return settings


def use(name: str) -> dict[str, Any]:
    """Point this process's settings at the stack ``name``; the stack, for commands that read
    more of it (doctor)."""
    from stopsms.settings import get_settings

    stack = describe(name)
    os.environ.update(environment(stack))
    get_settings.cache_clear()
    return stack
