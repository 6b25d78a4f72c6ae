"""Decision 0271's DynamoDB integrations: ``dynamodb:putItem``, ``getItem``, ``updateItem``
and ``deleteItem`` call the DynamoDB API in process as the state machine's role — its
identity policies decide (``DynamoDB.AccessDeniedException`` otherwise), its parameters and
answers are the API's, a failed condition is ``DynamoDB.ConditionalCheckFailedException``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.service import DynamoService
from andromede.dynamodbapi.app import DynamoApp
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from andromede.state_tasks import call_in_process
from andromede.wiring.dynamodb import dynamodb_limits
from andromede.wiring.dynamodb_table_keys import DynamoKmsSealer
from support.keys import key_service_in
from support.statesapp import REGION, World


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


async def test_dynamodb_items_as_the_role(world: World, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, region=REGION)
    keys = key_service_in(tmp_path / "ddb-keys")
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    customer_keys = CustomerKeyService(MemoryCustomerKeyStore(), keys,
                                       KmsAuthoriser(world.identity.policies_for, REGION),
                                       region=REGION)  # fmt: skip
    sealer = DynamoKmsSealer(keys, customer_keys, world.audit, billing)
    service = DynamoService(MemoryDynamoStore(), sealer, REGION, dynamodb_limits(settings))
    app = DynamoApp(service, world.identity, world.audit, settings, table_keys=sealer)
    world.dynamodb.append(app)
    root = Principal(world.tenant_id, None, None, PrincipalKind.ROOT,
                     f"arn:aws:iam::{world.tenant_id}:root")  # fmt: skip
    await call_in_process(app, "DynamoDB_20120810.CreateTable", "application/x-amz-json-1.0",
                          root, {
        "TableName": "orders", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]})  # fmt: skip
    definition: dict[str, Any] = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "orders",
                               "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}},
                               "ConditionExpression": "attribute_not_exists(id)"},
                "ResultPath": None, "Next": "Bump"},
        "Bump": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
                 "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}},
                                "UpdateExpression": "SET n = n + :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}},
                 "ResultPath": None, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                "ResultSelector": {"n.$": "$.Item.n.N"}, "ResultPath": "$.got", "Next": "Del"},
        "Del": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                "ResultPath": None, "End": True}}}  # fmt: skip
    actions = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem")
    role = await world.role("ddb", policy=allow(*actions))
    machine = await world.client("CreateStateMachine", name="ddb",
                                 definition=json.dumps(definition), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=machine["stateMachineArn"],
                             input='{"id": "o-1"}')  # fmt: skip
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"id": "o-1", "got": {"n": "2"}}
    # A second put of the same id: the condition fails, in DynamoDB's words.
    only_put = {"StartAt": "Put", "States": {"Put": {**definition["States"]["Put"],
                                                     "End": True}}}  # fmt: skip
    only_put["States"]["Put"].pop("Next")
    machine = await world.client("CreateStateMachine", name="put",
                                 definition=json.dumps(only_put), roleArn=role)  # fmt: skip
    for name in ("first", "second"):
        await world.client("StartExecution", stateMachineArn=machine["stateMachineArn"],
                           name=name, input='{"id": "o-2"}')  # fmt: skip
        await world.run()
    arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:")
    second = await world.client("DescribeExecution", executionArn=f"{arn}:second")
    assert (second["status"], second["error"]) == (
        "FAILED",
        "DynamoDB.ConditionalCheckFailedException",
    )
    weak = await world.role("weak", policy=allow("dynamodb:GetItem"))
    machine = await world.client("CreateStateMachine", name="weak",
                                 definition=json.dumps(only_put), roleArn=weak)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=machine["stateMachineArn"],
                             input='{"id": "o-3"}')  # fmt: skip
    await world.run()
    denied = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert denied["error"] == "DynamoDB.AccessDeniedException"
    await billing.close()
    keys.close()
