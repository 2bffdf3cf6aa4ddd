"""Least privilege, encryption and operations promises of template.yaml, checked on the template.

The inbound topic policy (only End User Messaging of this account publishes) is checked in
``tests/test_template.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from stopsms.emulator.template import load, resources_of

TEMPLATE = load()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")
ALARMS = resources_of(TEMPLATE, "AWS::CloudWatch::Alarm")
DATA_KEY = {"Ref": "DataKey"}
DATA_KEY_ARN = {"Fn::GetAtt": ["DataKey", "Arn"]}
ALARM_TARGET = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}

# Resources that are not the stack's, written as ARN patterns, and why.
SERVICE_SCOPED_RESOURCES = {
    # End User Messaging: the origination identity (phone number, sender ID, pool) is chosen
    # per message and is not a resource of this stack. Scoped to this account and region.
    "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:*",
    # The opt-out list the stack mirrors to: a parameter, not a resource of this stack.
    "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:opt-out-list/${OptOutListName}",
}
# Resources named by a parameter: the one object the deployment says holds its prices.
PARAMETER_SCOPED_RESOURCES = {
    json.dumps(
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:s3:::${Object}",
                {
                    "Object": {
                        "Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "PriceTableObject"}]}]
                    }
                },
            ]
        }
    )
}
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def branches(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """A statement, or both statements of a conditional one (``!If [Cond, stmt, NoValue]``)."""
    if "Fn::If" not in statement:
        return [statement]
    _, *options = statement["Fn::If"]
    return [option for option in options if option != {"Ref": "AWS::NoValue"}]


def statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere below ``node`` (key policies, topic policies, roles)."""
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list):
            for conditional in node["Statement"]:
                for statement in branches(conditional):
                    yield where, statement
        for key, value in node.items():
            yield from statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{where}/{index}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub_names(value: Any) -> set[str]:
    """The ``${Name}`` / ``${Name.Attr}`` logical names of a !Sub string."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    if isinstance(text, list):
        text = text[0]
    return {name.split(".")[0] for name in SUB_VARIABLE.findall(text)}


def is_stack_resource(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if "Ref" in value:
        return value["Ref"] in RESOURCES
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0] in RESOURCES
    if "Fn::Sub" in value:
        names = sub_names(value) - {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
        return bool(names) and names <= set(RESOURCES)
    return False


def test_no_statement_grants_a_wildcard_action() -> None:
    for where, statement in statements(RESOURCES):
        if where == "/DataKey/Properties/KeyPolicy" and statement["Sid"] == "AccountAdministration":
            # The account root administers its key (AWS's default key policy); IAM decides who.
            assert statement["Principal"] == {
                "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            }
            continue
        for action in as_list(statement.get("Action", [])):
            assert action != "*", where
            assert not str(action).endswith(":*"), (where, action)
        assert "NotAction" not in statement, where


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_statements_reference_only_the_stacks_resources(function: str) -> None:
    for policy in FUNCTIONS[function].get("Policies", []):
        if "Statement" not in policy:
            # A SAM policy template: its parameters name the resource it is scoped to.
            ((name, parameters),) = policy.items()
            for value in parameters.values():
                assert is_stack_resource(value), (function, name, value)
            continue
        for statement in (s for conditional in policy["Statement"] for s in branches(conditional)):
            assert statement["Effect"] == "Allow", function
            for resource in as_list(statement["Resource"]):
                if json.dumps(resource) in PARAMETER_SCOPED_RESOURCES:
                    continue
                if isinstance(resource, dict) and resource.get("Fn::Sub") in (
                    SERVICE_SCOPED_RESOURCES
                ):
                    continue
                assert resource != "*", (function, statement["Action"])
                assert is_stack_resource(resource), (function, resource)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_functions_can_decrypt_their_environment_and_data(function: str) -> None:
    # Globals encrypt every function's environment with the stack's key.
    assert TEMPLATE["Globals"]["Function"]["KmsKeyArn"] == DATA_KEY_ARN
    granted = [
        statement
        for policy in FUNCTIONS[function].get("Policies", [])
        for conditional in policy.get("Statement", [])
        for statement in branches(conditional)
        if "kms:Decrypt" in as_list(statement["Action"])
    ]
    assert [s["Resource"] for s in granted] == [DATA_KEY_ARN], function


def test_every_store_topic_and_log_group_uses_the_stack_key() -> None:
    for name, properties in resources_of(TEMPLATE, "AWS::SQS::Queue").items():
        assert properties["KmsMasterKeyId"] == DATA_KEY, name
    for name, properties in resources_of(TEMPLATE, "AWS::SNS::Topic").items():
        assert properties["KmsMasterKeyId"] == DATA_KEY, name
    for name, properties in resources_of(TEMPLATE, "AWS::DynamoDB::Table").items():
        assert properties["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": DATA_KEY,
        }, name
    for name, properties in resources_of(TEMPLATE, "AWS::Logs::LogGroup").items():
        assert properties["KmsKeyId"] == DATA_KEY_ARN, name
    for name, properties in resources_of(TEMPLATE, "AWS::SecretsManager::Secret").items():
        assert properties["KmsKeyId"] == DATA_KEY, name
    for name, properties in resources_of(TEMPLATE, "AWS::S3::Bucket").items():
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == DATA_KEY, name


def test_the_key_lets_cloudwatch_logs_use_it_only_for_this_accounts_log_groups() -> None:
    policy = RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [
        s
        for s in policy
        if s["Principal"].get("Service", {}) == {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
    ]
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    }


def dead_letter_queues() -> set[str]:
    queues = {
        properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for properties in resources_of(TEMPLATE, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in properties
    }
    for properties in FUNCTIONS.values():
        on_failure = (
            properties.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
        )
        if on_failure and on_failure["Type"] == "SQS":
            queues.add(on_failure["Destination"]["Fn::GetAtt"][0])
    return queues


def test_the_dead_letter_queues_are_the_expected_ones() -> None:
    assert dead_letter_queues() == {
        "CampaignDLQ",
        "ConsentDLQ",
        "SendDLQ",
        "InboundDLQ",
        "DeliveryEventsDLQ",
    }


@pytest.mark.parametrize("queue", sorted(dead_letter_queues()))
def test_every_dead_letter_queue_has_an_alarm_on_its_first_message(queue: str) -> None:
    watching = [
        alarm
        for alarm in ALARMS.values()
        if alarm.get("Namespace") == "AWS/SQS"
        and alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert len(watching) == 1, queue
    (alarm,) = watching
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(function: str, metric: str) -> None:
    assert any(
        alarm.get("Namespace") == "AWS/Lambda"
        and alarm.get("MetricName") == metric
        and alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        for alarm in ALARMS.values()
    ), (function, metric)


def test_every_alarm_notifies_the_alarm_topic() -> None:
    assert RESOURCES["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    assert TEMPLATE["Conditions"]["CreateAlarmTopic"] == {
        "Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]
    }
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [ALARM_TARGET], name


def test_custom_metric_alarms_watch_the_namespace_and_dimension_powertools_emits() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    namespace = variables["POWERTOOLS_METRICS_NAMESPACE"]
    dimensions = [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    custom = {
        "SmsSpendLimitAlarm": "QuotaExceeded",
        "OptOutSpikeAlarm": "RepliesOptOut",
    }
    for name, metric in custom.items():
        alarm = ALARMS[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
        assert alarm["Dimensions"] == dimensions
    assert ALARMS["OptOutSpikeAlarm"]["Threshold"] == {"Ref": "OptOutSpikeThreshold"}
    assert ALARMS["OptOutSpikeAlarm"]["Period"] == 900
    assert PARAMETERS["OptOutSpikeThreshold"]["Default"] == 50
    rate = {m["Id"]: m for m in ALARMS["SendFailureRateAlarm"]["Metrics"]}
    for metric_id, metric in (("sent", "Sent"), ("failed", "Failed")):
        stat = rate[metric_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
        }
        assert stat["Period"] == 300
    assert ALARMS["SendFailureRateAlarm"]["Threshold"] == 5


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_logs_json_to_its_own_group_with_retention(function: str) -> None:
    logging_config = FUNCTIONS[function]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    group = logging_config["LogGroup"]["Ref"]
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    properties = RESOURCES[group]["Properties"]
    assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert properties["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{function}"}
    assert PARAMETERS["LogRetentionDays"]["Default"] == 90


def test_the_dashboard_is_json_naming_only_existing_resources() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = sub_names(body)
    assert names <= set(RESOURCES) | {"AWS::Region"}, names - set(RESOURCES)
    dashboard = json.loads(SUB_VARIABLE.sub("x", body))
    lines = [line for w in dashboard["widgets"] for line in w["properties"].get("metrics", [])]
    metrics = {tuple(line[:2]) for line in lines if isinstance(line[0], str)}
    # A math line ([{"expression": ...}]) names only metric lines of the dashboard by id.
    ids = {line[-1]["id"] for line in lines if isinstance(line[-1], dict) and "id" in line[-1]}
    for line in lines:
        if isinstance(line[0], dict) and line[0]["expression"].startswith("SELECT"):
            continue  # a Metrics Insights query (tests/handlers/test_receipts.py checks it)
        if isinstance(line[0], dict):
            named = set(re.findall(r"\b[a-z][a-z0-9]*\b", line[0]["expression"]))
            assert named - {"if", "fill"} <= ids, named - ids
    assert ("StopSMS", "FailingDestinations") in metrics
    assert ("StopSMS", "CampaignsCancelled") in metrics
    for wanted in ("Sent", "Failed", "SuppressedOptedOut", "RepliesOptOut", "Cancelled"):
        assert ("StopSMS", wanted) in metrics
    for queue in resources_of(TEMPLATE, "AWS::SQS::Queue"):
        assert f"${{{queue}.QueueName}}" in body, queue
    for function in FUNCTIONS:
        assert f'"Duration", "FunctionName", "${{{function}}}"' in body, function


def test_checkov_exceptions_give_their_reason() -> None:
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
            assert len(skip["comment"]) > 20, (name, skip["id"])


def test_the_blocked_or_spam_alarms_use_the_threshold_the_report_shows() -> None:
    from stopsms.rules.receipts import BLOCKED_OR_SPAM_ALARM

    for name in ("BlockedOrSpamRateAlarm", "CampaignBlockedOrSpamAlarm"):
        assert ALARMS[name]["Threshold"] == BLOCKED_OR_SPAM_ALARM, name
