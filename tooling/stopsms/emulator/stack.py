"""The whole StopSMS application on one machine: no AWS account, no Docker.

- a moto server on loopback holds the queues, topic, tables and bucket, created from
  ``template.yaml`` itself (a resource added there appears here without code changes);
- the fake End User Messaging endpoint records every SMS (``fake_sms``);
- every function of the template runs in this process with only the permissions of its template
  role (IAM enforced by the emulator, ``stopsms.emulator.iam``), fed the way Lambda feeds it: SQS
  batches of the event source's ``BatchSize`` with ``batchItemFailures`` honoured (failed
  messages come back after a visibility timeout, and reach the DLQ after the queue's
  ``maxReceiveCount``), SNS notifications (through a bridge queue subscribed to the topic,
  retried then sent to the ``OnFailure`` destination), and schedules.

Locally the visibility timeout of a failed message is shortened to ``retry_delay`` seconds so
that retries are visible in a demo; everything else keeps Lambda's semantics.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import random
import socket
import sys
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from stopsms.aws import clients
from stopsms.dal.tables import reset_connections
from stopsms.emulator import iam
from stopsms.emulator import template as cfn
from stopsms.emulator.carriers import Carriers
from stopsms.emulator.fake_sms import FakeSms
from stopsms.emulator.moto_fixes import mend_moto
from stopsms.settings import get_settings

REGION = "eu-west-3"
ACCOUNT = "123456789012"
DELIVERY_EVENTS = "DeliveryEventsTopic"
log = logging.getLogger("stopsms.emulator")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Discard(io.TextIOBase):
    """Where a quiet stack's functions print: nowhere."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


@dataclass
class Context:
    """What a handler reads from Lambda's context object."""

    function_name: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


@dataclass
class Function:
    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    timeout_s: int
    quiet: bool = False  # swallow what the function prints (EMF metrics)
    enforcement: iam.Enforcement | None = None  # run with only its template role

    def invoke(self, event: dict[str, Any]) -> Any:
        with contextlib.ExitStack() as scope:
            if self.enforcement is not None:
                scope.enter_context(self.enforcement.invocation(self.name))
            if self.quiet:
                scope.enter_context(contextlib.redirect_stdout(_Discard()))
            return self.handler(event, Context(self.name, self.timeout_s))


@dataclass
class SqsSource:
    """An SQS event source mapping (or the bridge of an SNS subscription)."""

    function: Function
    queue_url: str
    batch_size: int
    sns: bool = False  # the queue carries SNS envelopes: invoke with an SNS event
    max_attempts: int = 3  # SNS: Lambda's async retries + 1
    on_failure: str | None = None  # SNS: the OnFailure destination queue URL


@dataclass
class Schedule:
    function: Function
    every_s: float
    last: float = 0.0


class EmulatedStack:
    """Start with ``start()``, feed functions with ``pump()``, stop with ``stop()``."""

    def __init__(
        self,
        root: Path = cfn.ROOT,
        *,
        overrides: dict[str, str] | None = None,
        retry_delay: int = 1,
        quiet: bool = False,
        enforce_iam: bool = True,
    ) -> None:
        self.root = root
        self.template = cfn.load(root / "template.yaml")
        self.overrides = overrides or {}
        self.retry_delay = retry_delay
        self.quiet = quiet  # functions print nothing: neither their logs nor their metrics
        self.sms = FakeSms()
        self.carriers = Carriers()  # the delivery events of what the fake endpoint sends
        self.server: Any = None
        self._environ: dict[str, str] | None = None
        self.stack = cfn.Stack()
        self.sources: list[SqsSource] = []
        self.schedules: list[Schedule] = []
        self.errors: list[str] = []
        self.endpoint = ""
        # SQS and SNS deliver at least once: this share of messages is delivered twice.
        self.duplicates = 0.0
        self.rng = random.Random(7)  # noqa: S311 - duplicated deliveries, not secrets
        # Each function runs with only its template role; the stack's own calls (set-up,
        # polling, the phone network's replies) act as an administrator.
        self.enforce_iam = enforce_iam
        self.iam: iam.Enforcement | None = None
        self._scope = contextlib.ExitStack()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> EmulatedStack:
        from moto.server import ThreadedMotoServer  # development dependency

        mend_moto()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its state per process: an earlier stack of this process must not leak in.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset).close()  # noqa: S310 - our own loopback endpoint
        self.sms.serve()
        self._environ = dict(os.environ)  # put back by stop(): the next user of the process
        os.environ.update(self.aws_environment())
        clients.reset()
        reset_connections()
        self.stack = cfn.create(
            {s: self.client(s) for s in ("sqs", "sns", "dynamodb", "s3", "secretsmanager")},
            self.template,
        )
        if self.enforce_iam:
            self.iam = iam.Enforcement(self.template, self.stack, REGION, ACCOUNT)
            self.iam.create_users(self.client("iam"))
            self._scope.enter_context(self.iam.active())
        if DELIVERY_EVENTS in self.stack.topics:
            self.sms.on_sent = self._reported
        env = self.stack.environment(self.template)
        env.update({f"STOPSMS_{k}": v for k, v in self.overrides.items()})
        if self.quiet:
            # Not POWERTOOLS_METRICS_DISABLED: Powertools still prints every 100 values then.
            env.update(POWERTOOLS_LOG_LEVEL="WARNING")
        os.environ.update(env)
        get_settings.cache_clear()
        with contextlib.ExitStack() as loading:
            if self.quiet:  # Powertools' Logger binds its handler to stdout as it is created
                loading.enter_context(contextlib.redirect_stdout(_Discard()))
            self._wire_functions()
        return self

    def stop(self) -> None:
        self._scope.close()
        self.sms.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._environ is not None:  # its endpoints are gone: no later client may use them
            os.environ.clear()
            os.environ.update(self._environ)
            self._environ = None
            get_settings.cache_clear()
            clients.reset()

    def __enter__(self) -> EmulatedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def aws_environment(self) -> dict[str, str]:
        """Environment that points every AWS SDK call of this process at the local stack."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": self.sms.url,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "StopSMS",
            "POWERTOOLS_SERVICE_NAME": "stopsms",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }

    def acting_as(self, principal: str) -> contextlib.AbstractContextManager[None]:
        """Calls of this process made as one of the template's principals (``PublisherPolicy``,
        ``OperatorPolicy``…) while IAM is enforced."""
        if self.iam is None:
            return contextlib.nullcontext()
        return self.iam.acting_as(principal)

    def credentials(self, principal: str) -> dict[str, str]:
        """AWS_* variables for another process acting as ``principal`` (the CLI with --local)."""
        if self.iam is None:
            return {}
        keys = self.iam.principals[principal].credentials
        if keys is None:
            raise RuntimeError("the stack's IAM users are not created yet")
        return {"AWS_ACCESS_KEY_ID": keys.access_key, "AWS_SECRET_ACCESS_KEY": keys.secret_key}

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts anything
        )

    # -- functions ------------------------------------------------------------------------
    def _load(self, name: str, properties: dict[str, Any]) -> Function:
        globals_ = self.template.get("Globals", {}).get("Function", {})
        module_file, _, attribute = properties["Handler"].rpartition(".")
        path = self.root / properties["CodeUri"] / f"{module_file}.py"
        spec = importlib.util.spec_from_file_location(f"stopsms_local_{name}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        timeout = int(properties.get("Timeout", globals_.get("Timeout", 3)))
        return Function(
            name, getattr(module, attribute), timeout, quiet=self.quiet, enforcement=self.iam
        )

    def _wire_functions(self) -> None:
        sqs = self.client("sqs")
        sns = self.client("sns")
        functions = cfn.resources_of(self.template, "AWS::Serverless::Function")
        for name, properties in functions.items():
            function = self._load(name, properties)
            for event in properties.get("Events", {}).values():
                kind, spec = event["Type"], event.get("Properties", {})
                if kind == "SQS":
                    queue = spec["Queue"]["Fn::GetAtt"][0]
                    self.sources.append(
                        SqsSource(
                            function, self.stack.queues[queue], int(spec.get("BatchSize", 10))
                        )
                    )
                elif kind == "SNS":
                    self.sources.append(self._bridge(function, properties, spec, sqs, sns))
                elif kind in ("Schedule", "ScheduleV2"):
                    self.schedules.append(Schedule(function, every_s=2.0))

    def _bridge(
        self,
        function: Function,
        properties: dict[str, Any],
        spec: dict[str, Any],
        sqs: Any,
        sns: Any,
    ) -> SqsSource:
        """SNS -> function: a queue subscribed to the topic stands for Lambda's async queue."""
        topic = self.stack.topics[spec["Topic"]["Ref"]]
        url = sqs.create_queue(QueueName=f"{function.name}-sns-bridge")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        invoke = properties.get("EventInvokeConfig", {})
        destination = invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return SqsSource(
            function,
            url,
            batch_size=10,  # read 10 at a time, each still its own invocation (SNS is async)
            sns=True,
            max_attempts=int(invoke.get("MaximumRetryAttempts", 2)) + 1,
            on_failure=self.stack.queues[destination["Fn::GetAtt"][0]] if destination else None,
        )

    # -- event sources ----------------------------------------------------------------------
    def pump(
        self,
        *,
        until_idle: bool = True,
        timeout_s: float = 120.0,
        max_invocations: int | None = None,
    ) -> int:
        """Feed the functions until no queue holds a message (visible or in flight), or
        until ``max_invocations`` (to act between two invocations, e.g. reply mid-campaign).

        Returns the number of invocations. Raises TimeoutError if work never settles.
        """
        with self.acting_as(iam.ADMIN):  # Lambda's pollers, not whoever called
            return self._pump(until_idle, timeout_s, max_invocations)

    def _pump(self, until_idle: bool, timeout_s: float, max_invocations: int | None) -> int:
        sqs = self.client("sqs")
        deadline = time.monotonic() + timeout_s
        invocations = 0
        while True:
            worked = False
            # One batch per source per pass, like concurrent pollers: queues stay shallow
            # (moto's SQS slows down with the depth of a queue).
            for source in self.sources:
                if max_invocations is not None and invocations >= max_invocations:
                    return invocations
                if self._poll(sqs, source):
                    worked = True
                    invocations += 1
            if events := self.carriers.due():
                self._publish_delivery_events(events)
                worked = True
            for schedule in self.schedules:
                if time.monotonic() - schedule.last >= schedule.every_s:
                    schedule.last = time.monotonic()
                    schedule.function.invoke(self._schedule_event(schedule))
                    invocations += 1
            if worked:
                continue
            if not until_idle or self._idle(sqs):
                return invocations
            if time.monotonic() > deadline:
                raise TimeoutError("the local stack did not settle")
            time.sleep(0.2)

    def _reported(self, request: dict[str, Any], message_id: str) -> None:
        """Only an SMS naming the stack's configuration set has its fate published."""
        if request.get("ConfigurationSetName") in self.stack.configuration_sets.values():
            self.carriers.sent(request, message_id)

    def _publish_delivery_events(self, events: list[dict[str, Any]]) -> None:
        """What the configuration set's SNS event destination does with each event."""
        sns = self.client("sns")
        for event in events:
            sns.publish(TopicArn=self.stack.topics[DELIVERY_EVENTS], Message=json.dumps(event))

    def _idle(self, sqs: Any) -> bool:
        if self.carriers.waiting:
            return False
        for source in self.sources:
            attributes = sqs.get_queue_attributes(
                QueueUrl=source.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if any(int(value) for value in attributes.values()):
                return False
        return True

    def _poll(self, sqs: Any, source: SqsSource) -> bool:
        messages: list[dict[str, Any]] = []
        while len(messages) < source.batch_size:  # ReceiveMessage gives 10 at most
            got = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(10, source.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages += got
        if not messages:
            return False
        for message in messages:
            if self.rng.random() < self.duplicates:
                self._redeliver_later(sqs, source, message)
        if source.sns:
            for message in messages:
                self._deliver_sns(sqs, source, message)
            return True
        event = {"Records": [self._sqs_record(source, m) for m in messages]}
        try:
            response = source.function.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:  # the whole batch failed, as Lambda would see it
            self.errors.append(traceback.format_exc())
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=source.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay,
                )
        return True

    def _redeliver_later(self, sqs: Any, source: SqsSource, message: dict[str, Any]) -> None:
        """A second delivery of the same message (SQS and SNS are at-least-once). The copy has
        a new SQS message id, which is harder than SQS's own duplicates (same id): StopSMS must
        recognise the job or the reply by its content (campaign and seq, inbound message id)."""
        attributes = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue")}
            for name, value in message.get("MessageAttributes", {}).items()
        }
        sqs.send_message(
            QueueUrl=source.queue_url, MessageBody=message["Body"], MessageAttributes=attributes
        )

    def _deliver_sns(self, sqs: Any, source: SqsSource, message: dict[str, Any]) -> None:
        envelope = json.loads(message["Body"])
        attempts = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
                    "Sns": {
                        "Type": envelope.get("Type", "Notification"),
                        "MessageId": envelope["MessageId"],
                        "TopicArn": envelope["TopicArn"],
                        "Subject": envelope.get("Subject"),
                        "Message": envelope["Message"],
                        "Timestamp": envelope.get("Timestamp"),
                        "SignatureVersion": "1",
                        "Signature": "local",
                        # Shaped as SNS writes them (Powertools' model checks they are URLs).
                        "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/local.pem",
                        "UnsubscribeUrl": (
                            f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
                            f"&SubscriptionArn={envelope['TopicArn']}:local"
                        ),
                        "MessageAttributes": envelope.get("MessageAttributes", {}),
                    },
                }
            ]
        }
        try:
            source.function.invoke(event)
        except Exception:
            self.errors.append(traceback.format_exc())
            if attempts < source.max_attempts:
                sqs.change_message_visibility(
                    QueueUrl=source.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay,
                )
                return
            if source.on_failure:  # Lambda's OnFailure destination record
                sqs.send_message(
                    QueueUrl=source.on_failure,
                    MessageBody=json.dumps(
                        {
                            "requestContext": {
                                "condition": "RetriesExhausted",
                                "approximateInvokeCount": attempts,
                            },
                            "requestPayload": event,
                        }
                    ),
                )
        sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def _sqs_record(source: SqsSource, message: dict[str, Any]) -> dict[str, Any]:
        queue_name = source.queue_url.rsplit("/", 1)[-1]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
            "awsRegion": REGION,
        }

    @staticmethod
    def _schedule_event(schedule: Schedule) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [
                f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{schedule.function.name}"
            ],
            "detail": {},
        }

    # -- helpers for people and tests ----------------------------------------------------
    def queue(self, logical_id: str) -> str:
        return self.stack.queues[logical_id]

    def topic(self, logical_id: str) -> str:
        return self.stack.topics[logical_id]

    def reply(self, phone: str, text: str, to: str = "36111") -> str:
        """A phone replies: publish the two-way SMS payload AWS would publish."""
        previous = [m for m in self.sms.outbox if m["DestinationPhoneNumber"] == phone]
        payload = {
            "originationNumber": phone,
            "destinationNumber": to,
            "messageKeyword": "KEYWORD_" + ACCOUNT,
            "messageBody": text,
            "inboundMessageId": str(uuid.uuid4()),
        }
        if previous:
            payload["previousPublishedMessageId"] = previous[-1]["MessageId"]
        self.client("sns").publish(TopicArn=self.topic("InboundTopic"), Message=json.dumps(payload))
        return payload["inboundMessageId"]

    def dead_letters(self) -> dict[str, int]:
        sqs = self.client("sqs")
        counts = {}
        for name, url in self.stack.queues.items():
            if name.endswith("DLQ"):
                attributes = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                counts[name] = int(attributes["ApproximateNumberOfMessages"])
        return counts
