"""The straightforward design StopSMS is measured against: no batching anywhere.

Fan-out: one ``SendMessage`` per recipient. Sender: per recipient, one ``GetItem`` for the
contact state (its number's item, of which it reads the brand's state alone), a conditional
``PutItem`` claim (so it is still exactly once), the send, and a ``PutItem`` outcome. It uses
the same pure core (normalise, decide, compose) and the same tables, so both designs send the
same SMS; only the AWS traffic differs.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from stopsms.aws import clients
from stopsms.dal import deliveries
from stopsms.dal.number_items import NUMBER_ITEM, states_of
from stopsms.errors import StopSmsError
from stopsms.models import CampaignRequest, Recipient, SendJob
from stopsms.rules.eligibility import Preference, marketing_block
from stopsms.rules.mention import compose
from stopsms.rules.personalise import render
from stopsms.rules.phones import normalize
from stopsms.settings import get_settings


def campaign_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    for record in event["Records"]:
        request = CampaignRequest.model_validate_json(record["body"])
        if request.audience is None:
            continue  # the benchmark uses S3 audiences
        bucket, key = request.audience.location
        body = clients.s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig")
        rows = csv.DictReader(io.StringIO(body))
        for seq, row in enumerate(rows):
            job = SendJob.for_recipient(request, seq, Recipient(phone=row.pop("phone"), vars=row))
            clients.sqs().send_message(
                QueueUrl=settings.send_queue_url, MessageBody=job.model_dump_json()
            )
    return {}


def sender_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    dynamodb = clients.dynamodb()
    for record in event["Records"]:
        job = SendJob.model_validate_json(record["body"])
        try:
            phone = normalize(job.phone)
        except StopSmsError:
            continue
        item = dynamodb.get_item(
            TableName=settings.contact_state_table,
            Key={"phone": {"S": phone.e164}, "scope": {"S": NUMBER_ITEM}},
            ConsistentRead=True,
        ).get("Item")
        if job.category.is_marketing:
            state = states_of(item or {}).get(job.brand)  # the brand's state alone
            preference = Preference(state.status, state.status_at) if state else None
            if marketing_block(preference, None, enforce_consent=True) is not None:
                continue
        try:
            dynamodb.put_item(
                TableName=settings.deliveries_table,
                Item=_delivery(job, phone.e164, "sending"),
                ConditionExpression="attribute_not_exists(campaign_id)",
            )
        except ClientError:
            continue  # already claimed
        text = compose(
            render(job.body, job.vars),
            marketing=job.category.is_marketing,
            language=job.language,
            stop_number=job.stop_number or settings.stop_number,
        ).text
        sent = clients.sms().send_text_message(
            DestinationPhoneNumber=phone.e164,
            MessageBody=text,
            MessageType="PROMOTIONAL" if job.category.is_marketing else "TRANSACTIONAL",
        )
        item = _delivery(job, phone.e164, "sent")
        item["message_id"] = {"S": sent["MessageId"]}
        dynamodb.put_item(TableName=settings.deliveries_table, Item=item)
    return {}


def _delivery(job: SendJob, e164: str, status: str) -> dict[str, Any]:
    """The claim item StopSMS writes too (same key), in DynamoDB's JSON."""
    return {
        "campaign_id": {"S": job.campaign_id},
        "recipient": {"S": deliveries.claim_key(e164)},
        "seq": {"N": str(job.seq)},
        "status": {"S": status},
        "updated_at": {"S": datetime.now(UTC).isoformat()},
    }
