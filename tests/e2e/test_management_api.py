"""The management REST API of a real ``andromede serve``: its own listener beside S3's, operator
keys from ``<data-dir>/operator-credentials``, tenants seeing only themselves, the bearer login
flow, and schemathesis exploring every operation of the served OpenAPI document."""

from __future__ import annotations

import itertools
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import schemathesis
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from schemathesis import CheckFunction
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from e2e.helpers import REGION
from support.apiclient import RequestsSigV4
from support.server import ANDROMEDE, ServerProcess, running_server

PASSWORD = "Correct-Horse-42"
TIMEOUT = 10


def operator_auth(server: ServerProcess) -> RequestsSigV4:
    return RequestsSigV4(Credentials(*server.operator_credentials()))


def api(server: ServerProcess, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, server.api_endpoint + path, timeout=TIMEOUT, **kwargs)


def set_console_password(server: ServerProcess, tenant: str, password: str) -> None:
    """With the operator's command, beside the running server."""
    subprocess.run(
        [str(ANDROMEDE), "admin", "user", "set-password", "root", "--tenant", tenant,
         "--password-stdin", "--data-dir", str(server.data_dir)],
        input=password.encode() + b"\n",
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def test_both_listeners_answer_and_stay_apart(server: ServerProcess) -> None:
    health = api(server, "GET", "/api/v1/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["x-request-id"]
    document = api(server, "GET", "/api/v1/openapi.json").json()
    assert "/api/v1/tenants" in document["paths"]
    # On the S3 port the same path is S3's: a bucket may be named "api".
    on_s3 = requests.get(server.endpoint + "/api/v1/health", timeout=TIMEOUT)
    assert on_s3.headers["content-type"] == "application/xml"
    assert b"<Code>" in on_s3.content


def test_operator_manages_tenants_and_a_tenant_sees_only_itself(server: ServerProcess) -> None:
    auth = operator_auth(server)
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    tenants = api(server, "GET", "/api/v1/tenants", auth=auth)
    assert tenants.status_code == 200, tenants.text
    assert "admin" in {t["name"] for t in tenants.json()["tenants"]}
    created = api(server, "POST", "/api/v1/tenants", json={"name": name}, auth=auth)
    assert created.status_code == 201, created.text
    keys = created.json()["credentials"]
    root = Credentials(keys["access_key_id"], keys["secret_access_key"])

    # The new root's key works on S3 at once, and on the API for its own tenant only.
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=root.access_key,
        aws_secret_access_key=root.secret_key,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )
    assert s3.list_buckets()["Buckets"] == []
    as_root = RequestsSigV4(root)
    assert api(server, "GET", "/api/v1/whoami", auth=as_root).json()["kind"] == "root"
    listing = api(server, "GET", "/api/v1/tenants", auth=as_root)
    assert listing.status_code == 403
    assert listing.headers["content-type"] == "application/problem+json"
    assert api(server, "GET", f"/api/v1/tenants/{name}", auth=as_root).status_code == 200
    assert api(server, "GET", "/api/v1/tenants/admin", auth=as_root).status_code == 404
    assert api(server, "POST", f"/api/v1/tenants/{name}/close", auth=as_root).status_code == 403

    quota = api(server, "PUT", f"/api/v1/tenants/{name}/quota", json={"max_buckets": 3}, auth=auth)
    assert quota.json()["max_buckets"] == 3
    assert api(server, "GET", f"/api/v1/tenants/{name}/quota", auth=as_root).json() == quota.json()

    # Suspending the tenant stops its keys (after the identity cache time on other workers).
    suspended = api(server, "POST", f"/api/v1/tenants/{name}/suspend", auth=auth)
    assert suspended.json()["status"] == "suspended"
    assert api(server, "POST", f"/api/v1/tenants/{name}/close", auth=auth).status_code == 200


def test_the_operators_monitoring_scrapes_the_hosts_and_a_tenant_cannot(
    server: ServerProcess,
) -> None:
    """Decision 0389: the hosts' supervised processes as a Prometheus exposition, read with
    an operator's key; the tenant's root key is refused and learns nothing of the hosts."""
    scraped = api(server, "GET", "/api/v1/hosts/metrics", auth=operator_auth(server))
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    # The server's one memory host answers, and supervises nothing.
    assert 'andromede_host_agent_up{host="memory-host"} 1' in scraped.text.splitlines()
    assert "# TYPE andromede_host_process_restarts_total counter" in scraped.text
    tenant = RequestsSigV4(Credentials(*server.credentials()))
    refused = api(server, "GET", "/api/v1/hosts/metrics", auth=tenant)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "memory-host" not in refused.text


def test_operator_keys_do_not_work_on_the_s3_endpoint(server: ServerProcess) -> None:
    access_key, secret_key = server.operator_credentials()
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        s3.list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_bearer_login_flow(server: ServerProcess) -> None:
    auth = operator_auth(server)
    name = f"login-{uuid.uuid4().hex[:12]}"
    created = api(server, "POST", "/api/v1/tenants", json={"name": name}, auth=auth).json()
    set_console_password(server, name, PASSWORD)

    wrong = api(
        server,
        "POST",
        "/api/v1/login",
        json={"account": name, "user_name": "root", "password": "Not-The-Password-1"},
    )
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    login = api(
        server,
        "POST",
        "/api/v1/login",
        json={"account": name, "user_name": "root", "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    whoami = api(server, "GET", "/api/v1/whoami", headers=bearer).json()
    assert whoami["tenant_id"] == created["tenant"]["id"]
    assert whoami["authenticated_by"] == "bearer"
    assert api(server, "GET", "/api/v1/tenants", headers=bearer).status_code == 403
    assert api(server, "POST", "/api/v1/logout", headers=bearer).status_code == 204
    after = api(server, "GET", "/api/v1/whoami", headers=bearer)
    assert after.status_code == 401
    assert after.json()["request_id"] == after.headers["x-request-id"]


# -- schemathesis: every operation of the served document, operator-signed ---------------------
@pytest.fixture(scope="module")
def schema_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: the generated requests create, suspend and close tenants."""
    with running_server(tmp_path_factory.mktemp("schemathesis") / "data") as process:
        yield process


# schemathesis's own pytest plugin (schemathesis.pytest.from_fixture) does not run under
# pytest 9; the library's strategies run under hypothesis here instead, one operation at a time:
# schema-valid requests (positive) on random tenant names and on a tenant that exists, and
# requests that break the schema (negative).
RUNS: list[tuple[GenerationMode, bool, int]] = [
    # (mode, on the existing tenant, examples)
    (GenerationMode.POSITIVE, False, 15),
    (GenerationMode.POSITIVE, True, 15),
    (GenerationMode.NEGATIVE, False, 10),
]


# Operations whose bodies are checked beyond what JSON Schema says, so a schema-valid body may
# be refused with a 400 naming what is wrong (decision 0126): a billing profile's VAT number has
# each member state's format and must be its country's, a SIRET has a Luhn key, a line holds
# no control character; a credit note's reason is not blank and each invoice line is asked at
# most once. Every other check (no 500, answers as documented) still applies to them.
_SEMANTIC: dict[str, list[CheckFunction]] = {
    "PUT /api/v1/tenants/{tenant}/billing-profile": [positive_data_acceptance],
    "POST /api/v1/tenants/{tenant}/invoices/{number}/credit-notes": [positive_data_acceptance],
}


def test_the_served_api_conforms_to_its_openapi_document(schema_server: ServerProcess) -> None:
    """No 500, every answer as documented (status, content type, body schema, headers), and
    requests that break the schema refused with a 4xx."""
    served = schemathesis.openapi.from_url(
        schema_server.api_endpoint + "/api/v1/openapi.json", timeout=TIMEOUT
    )
    auth = operator_auth(schema_server)
    target = api(schema_server, "POST", "/api/v1/tenants", json={"name": "target"}, auth=auth)
    assert target.status_code == 201
    operations = [result.ok() for result in served.get_all_operations()]
    assert len(operations) >= 11
    failures: list[str] = []
    for operation, (mode, on_target, examples) in itertools.product(operations, RUNS):
        has_tenant = "{tenant}" in operation.path
        if on_target and not has_tenant:
            continue
        if mode is GenerationMode.NEGATIVE and not (operation.body or has_tenant):
            continue  # nothing in it can break the schema
        fixed = {"tenant": "target"} if on_target else None

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(
                auth=auth, timeout=TIMEOUT, excluded_checks=_SEMANTIC.get(case.operation.label)
            )

        try:
            conforms()
        except Exception as exc:  # gather every operation's failure, then report them all
            where = "target" if on_target else "random"
            failures.append(f"{operation.method.upper()} {operation.path} ({mode}, {where}): {exc}")
    assert failures == []


def test_the_log_carries_no_secret(schema_server: ServerProcess, server: ServerProcess) -> None:
    for process in (schema_server, server):
        assert process.log_path is not None
        log = Path(process.log_path).read_text()
        for secret in (process.credentials()[1], process.operator_credentials()[1], PASSWORD):
            assert secret not in log
    assert schema_server.log_path is not None
    assert "Traceback" not in Path(schema_server.log_path).read_text()
