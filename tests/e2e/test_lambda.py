"""Lambda end to end (decision 0286), on the session's ``andromede serve`` (no server of its
own): boto3's ``lambda`` client creates a function from a zip with a role trusting Lambda,
invokes it (the handler run in the server's bubblewrap sandbox, its log tail returned and
written to CloudWatch Logs ``/aws/lambda/<name>``), has a state machine invoke it as its role
(``lambda:invoke``, decision 0294), sees a handler's error as AWS answers
it, downloads its zip from GetFunction's ``Code.Location``, and deletes it; the aws CLI
lists it. A function URL (decision 0312) serves public and SigV4-signed requests."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e.clients import aws_cli
from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import (
    NEEDS_BWRAP,
    TRUST,
    execution_role,
    handler_zip,
    python_function,
)
from support.server import REGION, ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = """
def handler(event, context):
    print("invoked", context.function_name)
    if event.get("fail"):
        raise KeyError("missing")
    return {"sum": event["a"] + event["b"]}
"""


def test_boto3_creates_and_invokes_a_function(server: ServerProcess, tmp_path: Path) -> None:
    tenant = new_tenant(server, "lambda-e2e")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    made = python_function(functions, "adder", execution_role(iam, "fn"), SOURCE)
    assert made["State"] == "Active"
    location = functions.get_function(FunctionName="adder")["Code"]["Location"]
    downloaded = requests.get(location, timeout=30)
    assert downloaded.status_code == 200 and downloaded.content == handler_zip(SOURCE)
    done = functions.invoke(FunctionName="adder", Payload=b'{"a": 2, "b": 3}', LogType="Tail")
    assert json.loads(done["Payload"].read()) == {"sum": 5}
    assert "invoked adder" in base64.b64decode(done["LogResult"]).decode()
    failed = functions.invoke(FunctionName="adder", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    logs: Any = client_for(server, "logs", *keys)
    for _ in range(20):
        found = logs.filter_log_events(logGroupName="/aws/lambda/adder")["events"]
        if any(e["message"].startswith("REPORT RequestId: ") for e in found):
            break
        time.sleep(0.2)
    assert any("invoked adder" in e["message"] for e in found)

    # Step Functions invokes it as the machine's role (decision 0294).
    states_trust = TRUST.replace("lambda.amazonaws.com", "states.amazonaws.com")
    machine_role = iam.create_role(RoleName="machine",
                                   AssumeRolePolicyDocument=states_trust)  # fmt: skip
    iam.put_role_policy(RoleName="machine", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": made["FunctionArn"]}]}))  # fmt: skip
    states: Any = client_for(server, "stepfunctions", *keys)
    machine = states.create_state_machine(name="adds", roleArn=machine_role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Add", "States": {"Add": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "adder", "Payload.$": "$"},
            "OutputPath": "$.Payload", "End": True}}}))  # fmt: skip
    run = states.start_execution(
        stateMachineArn=machine["stateMachineArn"], input='{"a": 4, "b": 5}'
    )
    for _ in range(100):
        described = states.describe_execution(executionArn=run["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"sum": 9}
    states.delete_state_machine(stateMachineArn=machine["stateMachineArn"])

    aws = aws_cli(server, tmp_path)
    listed = json.loads(aws("lambda", "list-functions").stdout)["Functions"]
    assert "adder" not in [f["FunctionName"] for f in listed]  # the admin's, not the tenant's
    functions.delete_function(FunctionName="adder")
    assert functions.list_functions()["Functions"] == []


def _layer_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


LAYER_USER = """
import greeting

def handler(event, context):
    return {"greeting": greeting.hello(event["name"])}
"""


def test_functions_use_layers_their_own_and_shared(server: ServerProcess) -> None:
    """Decision 0302: a layer with a Python module published by boto3, its content downloaded
    from ``Content.Location``; a function importing it runs; another account's function uses
    it while it is shared, and is refused it once the permission is removed."""
    owner = new_tenant(server, "layers-owner")
    keys = (owner.access_key_id, owner.secret_access_key)
    lam: Any = client_for(server, "lambda", *keys)
    content = _layer_zip({"python/greeting.py": "def hello(name):\n    return 'bonjour ' + name\n"})
    layer = lam.publish_layer_version(
        LayerName="greetings", Content={"ZipFile": content}, CompatibleRuntimes=["python3.11"]
    )
    assert layer["Version"] == 1 and layer["Content"]["CodeSize"] == len(content)
    downloaded = requests.get(layer["Content"]["Location"], timeout=30)
    assert downloaded.status_code == 200 and downloaded.content == content
    listed = lam.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [x["LayerName"] for x in listed] == ["greetings"]
    role = execution_role(client_for(server, "iam", *keys), "fn")
    made = python_function(lam, "greeter", role, LAYER_USER, Layers=[layer["LayerVersionArn"]])
    assert made["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": len(content)}]
    done = lam.invoke(FunctionName="greeter", Payload=b'{"name": "Ada"}')
    assert json.loads(done["Payload"].read()) == {"greeting": "bonjour Ada"}

    partner = new_tenant(server, "layers-partner")
    pkeys = (partner.access_key_id, partner.secret_access_key)
    plam: Any = client_for(server, "lambda", *pkeys)
    prole = execution_role(client_for(server, "iam", *pkeys), "fn")
    wanted = {"Layers": [layer["LayerVersionArn"]]}
    with pytest.raises(plam.exceptions.ClientError) as refused:
        python_function(plam, "borrower", prole, LAYER_USER, **wanted)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    lam.add_layer_version_permission(
        LayerName="greetings", VersionNumber=1, StatementId="partner",
        Action="lambda:GetLayerVersion", Principal=partner.account,
    )  # fmt: skip
    python_function(plam, "borrower", prole, LAYER_USER, **wanted)
    done = plam.invoke(FunctionName="borrower", Payload=b'{"name": "Grace"}')
    assert json.loads(done["Payload"].read()) == {"greeting": "bonjour Grace"}
    lam.remove_layer_version_permission(
        LayerName="greetings", VersionNumber=1, StatementId="partner"
    )
    with pytest.raises(plam.exceptions.ClientError) as refused:
        python_function(plam, "late", prole, LAYER_USER, **wanted)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    # Deleted, the version still serves the functions using it, as AWS keeps it for them.
    lam.delete_layer_version(LayerName="greetings", VersionNumber=1)
    # A new configuration: a new sandbox, the deleted version's content read again.
    lam.update_function_configuration(FunctionName="greeter", Timeout=5)
    done = lam.invoke(FunctionName="greeter", Payload=b'{"name": "Alan"}')
    assert json.loads(done["Payload"].read()) == {"greeting": "bonjour Alan"}
    assert (
        lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": content})["Version"]
        == 2
    )


PROVISIONED_SOURCE = """
import os

def handler(event, context):
    return {"init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"""


def test_provisioned_concurrency_on_an_alias(server: ServerProcess) -> None:
    """Decision 0314: boto3 puts a provisioned concurrency configuration on an alias, the
    server's provisioning task makes it READY, an invocation of the alias runs in a
    provisioned sandbox (``AWS_LAMBDA_INITIALIZATION_TYPE``, no ``Init Duration``); once the
    configuration is deleted, invocations run on demand."""
    tenant = new_tenant(server, "lambda-provisioned")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "fn")
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "warm", role, PROVISIONED_SOURCE)
    functions.publish_version(FunctionName="warm")
    functions.create_alias(FunctionName="warm", Name="live", FunctionVersion="1")
    put = functions.put_provisioned_concurrency_config(
        FunctionName="warm", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert put["Status"] == "IN_PROGRESS"
    for _ in range(100):
        got = functions.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
        if got["Status"] != "IN_PROGRESS":
            break
        time.sleep(0.2)
    assert got["Status"] == "READY", got
    assert got["AllocatedProvisionedConcurrentExecutions"] == 1
    listed = functions.list_provisioned_concurrency_configs(FunctionName="warm")
    arns = [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]]
    assert [a.rsplit(":", 1)[1] for a in arns] == ["live"]
    done = functions.invoke(FunctionName="warm", Qualifier="live", LogType="Tail")
    assert json.loads(done["Payload"].read()) == {"init": "provisioned-concurrency"}
    assert "Init Duration" not in base64.b64decode(done["LogResult"]).decode()
    functions.delete_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    for _ in range(50):
        done = functions.invoke(FunctionName="warm", Qualifier="live")
        if json.loads(done["Payload"].read()) == {"init": "on-demand"}:
            break
        time.sleep(0.2)  # the gateway's task stops the provisioned sandbox on its next pass
    else:
        raise AssertionError("still provisioned after the configuration was deleted")
    functions.delete_function(FunctionName="warm")


URL_SOURCE = """
import json

def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"X-Path": event["rawPath"]},
        "cookies": ["seen=yes"],
        "body": json.dumps({"query": event.get("queryStringParameters"),
                            "body": event.get("body"),
                            "iam": event["requestContext"].get("authorizer")}),
    }
"""


def test_function_urls_public_and_signed(server: ServerProcess) -> None:
    """Decision 0312: a function URL made by boto3 (``NONE``, with the public permission
    ``FunctionUrlAuthType`` asks for) answers a POST with a JSON body and a query through
    the server's shared listener, the Host header naming the URL; switched to ``AWS_IAM``
    it refuses an unsigned request and serves one signed with SigV4 for ``lambda``."""
    tenant = new_tenant(server, "lambda-urls")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "fn")
    lam: Any = client_for(server, "lambda", *keys)
    python_function(lam, "web", role, URL_SOURCE)
    made = lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    url = urlsplit(made["FunctionUrl"])
    assert url.hostname is not None and url.hostname.endswith(".localhost")
    target = f"{server.endpoint}/orders?id=7"
    refused = requests.post(target, json={"n": 1}, headers={"Host": url.netloc}, timeout=60)
    assert refused.status_code == 403 and refused.json() == {"Message": "Forbidden"}
    lam.add_permission(
        FunctionName="web", StatementId="public", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    answer = requests.post(target, json={"n": 1}, headers={"Host": url.netloc}, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Path"] == "/orders" and answer.cookies["seen"] == "yes"
    assert answer.json()["query"] == {"id": "7"}
    assert json.loads(answer.json()["body"]) == {"n": 1}

    lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    unsigned = requests.get(target, headers={"Host": url.netloc}, timeout=60)
    assert unsigned.status_code == 403
    request = AWSRequest(method="GET", url=f"{url.scheme}://{url.netloc}/orders?id=7")
    SigV4Auth(Credentials(*keys), "lambda", REGION).add_auth(request)
    signed_headers = {**dict(request.headers.items()), "Host": url.netloc}  # the one signed
    signed = requests.get(target, headers=signed_headers, timeout=60)
    assert signed.status_code == 201, signed.text
    assert signed.json()["iam"]["iam"]["accountId"] == tenant.account
    assert [c["AuthType"] for c in lam.list_function_url_configs(FunctionName="web")[
        "FunctionUrlConfigs"]] == ["AWS_IAM"]  # fmt: skip
    lam.delete_function(FunctionName="web")


STREAMING_SOURCE = """
import time

def handler(event, context):
    print("called with", event)
    if event.get("async"):
        return {"done": True}
    return pieces(event)

def pieces(event):
    for n in range(3):
        yield f"piece {n};"
        time.sleep(event.get("pause", 0.05))
    if event.get("fail"):
        raise ValueError("failed mid-stream")
"""


def test_boto3_streams_a_response_and_invokes_async(server: ServerProcess) -> None:
    """Decision 0313: ``invoke_with_response_stream`` iterates a generator handler's pieces
    and its InvokeComplete; a failure mid-stream is its ErrorCode; ``invoke_async`` runs it."""
    tenant = new_tenant(server, "lambda-stream-e2e")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "streamer")
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "streamer", role, STREAMING_SOURCE)
    answer = functions.invoke_with_response_stream(
        FunctionName="streamer", Payload=b'{"pause": 0.4}', LogType="Tail"
    )
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    events, arrived = [], []
    for event in answer["EventStream"]:
        events.append(event)
        arrived.append(time.monotonic())
    pieces = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert pieces == [b"piece 0;", b"piece 1;", b"piece 2;"]
    # Through the server as they were made, not gathered: the handler paused between them.
    assert arrived[2] - arrived[0] > 0.6
    complete = events[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "called with" in base64.b64decode(complete["LogResult"]).decode()

    failed = functions.invoke_with_response_stream(FunctionName="streamer",
        Payload=b'{"fail": true}')  # fmt: skip
    events = list(failed["EventStream"])
    assert len([e for e in events if "PayloadChunk" in e]) == 3
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "ValueError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "failed mid-stream"

    assert functions.invoke_async(FunctionName="streamer",
        InvokeArgs=b'{"async": "by-invoke-async"}')["Status"] == 202  # fmt: skip
    logs: Any = client_for(server, "logs", *keys)
    found: list[dict[str, Any]] = []
    for _ in range(100):
        found = logs.filter_log_events(logGroupName="/aws/lambda/streamer")["events"]
        if any("by-invoke-async" in e["message"] for e in found):
            break
        time.sleep(0.2)
    assert any("by-invoke-async" in e["message"] for e in found)
    functions.delete_function(FunctionName="streamer")
