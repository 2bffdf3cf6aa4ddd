"""A deployed stack, read by name: the operator commands find its tables, queues and settings in
its outputs and parameters instead of ``STOPSMS_*`` variables exported by hand.

The functions receive the same settings from the template's ``Globals`` environment;
tests/cli/test_cli_options.py checks that every one of them is mapped here, so a new setting
cannot be forgotten.
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


# A stack in any other state has no usable resources (a failed first deployment, one being
# created or deleted): its outputs are missing or about to be.
USABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


class StackNotFound(StopSmsError):
    """The stack named on the command line is not in this account and region, or is not a
    usable StopSMS stack."""


def describe(name: str) -> dict[str, Any]:
    """The stack ``name`` as CloudFormation describes it (outputs and parameters)."""
    import boto3  # the operator's tooling; the functions never read a stack
    from botocore.exceptions import ClientError

    client = boto3.client("cloudformation")
    region = client.meta.region_name
    try:
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise StackNotFound(
                f"no stack {name!r} in {region}: check --stack-name and --region "
                "(`aws cloudformation list-stacks` lists them)"
            ) from None
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise StackNotFound(
                f"{name!r} is not a stack name (letters, digits and hyphens, starting with a "
                "letter): check --stack-name"
            ) from None
        raise
    stack = dict(stacks[0])
    status = str(stack.get("StackStatus", ""))
    if status and status not in USABLE:
        raise StackNotFound(
            f"stack {name!r} in {region} is {status}: it has no usable resources "
            "(a failed first deployment is deleted, then deployed again: docs/DEPLOY.md)"
        )
    missing = [key for key in OUTPUT_SETTINGS if key not in outputs(stack)]
    if missing:
        raise StackNotFound(
            f"stack {name!r} has no output {', '.join(missing)}: is it a StopSMS stack "
            "deployed from this release's template.yaml? (`make deploy` updates it)"
        )
    return stack


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


def bind() -> None:
    """Point the tables at this process's settings (the stack's, once ``use`` has run)."""
    from stopsms.dal.tables import bind as bind_tables
    from stopsms.settings import get_settings

    bind_tables(get_settings())
