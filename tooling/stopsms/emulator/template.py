"""Create the queues, topics, tables and buckets of ``template.yaml`` in an AWS emulator.

One source of truth: tests and the local stack build their resources from the deployed
template, so they cannot drift from it. Physical names are the logical IDs.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"


# libyaml's parser when PyYAML was built with it: ten times faster on this 60 KB template,
# which every test and the local stack read.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt…) into dicts."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a dict (a fresh copy each time: callers may change it)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    """Parsed once per version of the file (its modification time and size are the key)."""
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def resources_of(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource.get("Properties", {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@dataclass
class Stack:
    """Physical identifiers of what was created, by logical ID."""

    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    buckets: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN
    configuration_sets: dict[str, str] = field(default_factory=dict)  # logical id -> name

    def environment(
        self, template: Mapping[str, Any], function: str | None = None
    ) -> dict[str, str]:
        """A function's environment (globals + its own), with !Ref / !GetAtt resolved here.

        Without ``function``: the globals and every function's own variables together.
        """
        variables = dict(
            template.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )
        functions = resources_of(template, "AWS::Serverless::Function")
        for name, properties in functions.items():
            if function in (None, name):
                variables.update(properties.get("Environment", {}).get("Variables", {}))
        return resolve_env(variables, template, self)

    def resolve(self, logical_id: str, attribute: str | None = None) -> str:
        if logical_id in self.queues:
            return self.queue_arns[logical_id] if attribute == "Arn" else self.queues[logical_id]
        if logical_id in self.topics:
            return self.topics[logical_id]
        if logical_id in self.tables:
            return self.tables[logical_id]
        if logical_id in self.buckets:
            return self.buckets[logical_id]
        if logical_id in self.secrets:
            return self.secrets[logical_id]
        if logical_id in self.configuration_sets:
            return self.configuration_sets[logical_id]
        raise KeyError(logical_id)


def resolve_env(
    variables: Mapping[str, Any], template: Mapping[str, Any], stack: Stack
) -> dict[str, str]:
    parameters = template.get("Parameters", {})
    resolved: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            value = when_true if holds(condition, template) else when_false
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in parameters:
                resolved[name] = str(parameters[ref].get("Default", ""))
            else:
                try:
                    resolved[name] = stack.resolve(ref)
                except KeyError:
                    continue  # a resource the emulator does not create (layer, key)
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            resolved[name] = stack.resolve(logical_id, attribute)
        else:
            resolved[name] = str(value)
    return resolved


def holds(condition: str, template: Mapping[str, Any]) -> bool:
    """A template condition, with the parameters at their defaults (``Fn::Equals``, and
    ``Fn::Not`` of one)."""
    return _evaluate(template["Conditions"][condition], template)


def _evaluate(expression: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    if "Fn::Not" in expression:
        return not _evaluate(expression["Fn::Not"][0], template)
    left, right = expression["Fn::Equals"]
    parameters = template.get("Parameters", {})

    def value(side: Any) -> str:
        if isinstance(side, dict) and "Ref" in side:
            return str(parameters[side["Ref"]].get("Default", ""))
        return str(side)

    return value(left) == value(right)


def _table_request(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if indexes := properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = indexes
    return request


def create(clients: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> Stack:
    """Create every SQS queue, SNS topic (with its SQS subscriptions), DynamoDB table and S3
    bucket of the template.

    ``clients`` maps service names ("sqs", "sns", "dynamodb", "s3", "secretsmanager") to
    boto3 clients.
    """
    template = template or load()
    stack = Stack()
    for name, properties in resources_of(template, "AWS::DynamoDB::Table").items():
        clients["dynamodb"].create_table(**_table_request(name, properties))
        if ttl := properties.get("TimeToLiveSpecification"):
            clients["dynamodb"].update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        stack.tables[name] = name
    if "ContactStateTable" in stack.tables:
        # A new stack is migrated at once (``make deploy`` runs ``migrate`` after each deploy;
        # there is nothing to fold): the marker ``dal.contacts.migrated`` looks for (imported
        # here: the data layer is not needed to start the command line).
        from stopsms.dal.contacts import MIGRATED

        phone, scope = MIGRATED
        clients["dynamodb"].put_item(
            TableName=stack.tables["ContactStateTable"],
            Item={"phone": {"S": phone}, "scope": {"S": scope}, "source": {"S": "new stack"}},
        )
    queues = resources_of(template, "AWS::SQS::Queue")
    # Dead-letter queues first: a redrive policy needs its target's ARN.
    ordered = sorted(queues, key=lambda n: "RedrivePolicy" in queues[n])
    for name in ordered:
        attributes = {
            "VisibilityTimeout": str(queues[name].get("VisibilityTimeout", 30)),
        }
        if "MessageRetentionPeriod" in queues[name]:
            attributes["MessageRetentionPeriod"] = str(queues[name]["MessageRetentionPeriod"])
        if redrive := queues[name].get("RedrivePolicy"):
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = (
                f'{{"deadLetterTargetArn": "{stack.queue_arns[target]}", '
                f'"maxReceiveCount": "{redrive["maxReceiveCount"]}"}}'
            )
        url = clients["sqs"].create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        stack.queues[name] = url
        stack.queue_arns[name] = arn["Attributes"]["QueueArn"]
    for name in resources_of(template, "AWS::SNS::Topic"):
        stack.topics[name] = clients["sns"].create_topic(Name=name)["TopicArn"]
    for properties in resources_of(template, "AWS::SNS::Subscription").values():
        if properties.get("Protocol") != "sqs":
            continue
        raw = str(properties.get("RawMessageDelivery", False)).lower()
        clients["sns"].subscribe(
            TopicArn=stack.topics[properties["TopicArn"]["Ref"]],
            Protocol="sqs",
            Endpoint=stack.queue_arns[properties["Endpoint"]["Fn::GetAtt"][0]],
            Attributes={"RawMessageDelivery": raw},
        )
    for name in resources_of(template, "AWS::S3::Bucket"):
        bucket = name.lower()
        clients["s3"].create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": clients["s3"].meta.region_name},
        )
        stack.buckets[name] = bucket
    for name in resources_of(template, "AWS::SMSVOICE::ConfigurationSet"):
        # The fake End User Messaging endpoint knows it: each SMS naming it gets its events.
        stack.configuration_sets[name] = f"stopsms-local-{name}"
    for name, properties in resources_of(template, "AWS::SecretsManager::Secret").items():
        length = int(properties.get("GenerateSecretString", {}).get("PasswordLength", 32))
        secret = clients["secretsmanager"].create_secret(
            Name=name, SecretString=secrets.token_hex(length // 2)
        )
        stack.secrets[name] = secret["ARN"]
    return stack
