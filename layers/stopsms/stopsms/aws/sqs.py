"""SQS sends in batches: ``SendMessageBatch`` entries grouped by ten under the payload limit,
several batches in flight, and the entries SQS reports as failed sent again (botocore retries a
failed call, not the failed entries of a successful one)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Final

from stopsms.aws import clients
from stopsms.aws.retry import backoff
from stopsms.errors import Transient

__all__ = ["BATCH_ENTRIES", "MESSAGE_BYTES", "SEND_ATTEMPTS", "send_all", "send_batch"]

BATCH_ENTRIES: Final = 10  # SendMessageBatch maximum
BATCH_BYTES: Final = 256 * 1024  # SendMessageBatch payload maximum
MESSAGE_BYTES: Final = 256 * 1024  # one message's body, at most (contract §2)
CONCURRENCY: Final = 8  # SendMessageBatch calls in flight
SEND_ATTEMPTS: Final = 5  # per batch, for entries SQS reports in Failed


def sleep(seconds: float) -> None:
    """Back-off pause (a function so tests need not wait)."""
    time.sleep(seconds)


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="sqs")


def batches(entries: Sequence[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    """SendMessageBatch entries: 10 a call, and under the payload limit."""
    batch: list[dict[str, str]] = []
    size = 0
    for entry in entries:
        length = len(entry["MessageBody"].encode())
        if batch and (len(batch) == BATCH_ENTRIES or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += length
    if batch:
        yield batch


def send_batch(queue_url: str, entries: list[dict[str, str]]) -> None:
    """One SendMessageBatch; entries SQS reports as failed are sent again, with back-off.

    Raises ``Transient`` when some still fail, so that the message is retried by SQS."""
    for attempt in range(SEND_ATTEMPTS):
        response = clients.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
        failed = response.get("Failed", [])
        if not failed:
            return
        if any(item.get("SenderFault") for item in failed):
            first = failed[0]
            raise Transient(
                f"SQS refused {len(failed)} messages: {first.get('Code')} {first.get('Message')}"
            )
        retry = {item["Id"] for item in failed}
        entries = [entry for entry in entries if entry["Id"] in retry]
        if attempt + 1 < SEND_ATTEMPTS:
            sleep(backoff(attempt))
    raise Transient(f"{len(entries)} messages still failing after {SEND_ATTEMPTS} attempts")


def send_all(queue_url: str, entries: Sequence[dict[str, str]]) -> int:
    """Send ``entries`` (``Id``, ``MessageBody``), several batches at once; returns the calls
    made."""
    groups = list(batches(entries))
    for future in [_executor().submit(send_batch, queue_url, group) for group in groups]:
        future.result()
    return len(groups)
