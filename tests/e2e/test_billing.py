"""Metering and billing against a real ``andromede serve`` (decision 0108): boto3 PUTs, GETs
and a LIST of known sizes by a new tenant show, after a flush, as exactly those request counts
and bytes in its usage report; the operator's prices give the cost boto3's traffic should
cost, VAT apart; another tenant sees none of it; ``andromede admin usage`` prints the same
report as CSV."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.credentials import Credentials

from e2e.helpers import REGION
from support.apiclient import RequestsSigV4
from support.launcher import run_command
from support.server import ANDROMEDE, ServerProcess, running_server

TIMEOUT = 10
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("billing") / "data",
        extra_env={"ANDROMEDE_BILLING_FLUSH_INTERVAL": "0.2"},
    ) as process:
        yield process


def api(server: ServerProcess, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, server.api_endpoint + "/api/v1" + path, timeout=TIMEOUT, **kwargs
    )


def new_tenant(server: ServerProcess, operator: RequestsSigV4) -> tuple[str, Credentials]:
    name = f"bill-{uuid.uuid4().hex[:12]}"
    created = api(server, "POST", "/tenants", json={"name": name}, auth=operator)
    assert created.status_code == 201, created.text
    keys = created.json()["credentials"]
    return name, Credentials(keys["access_key_id"], keys["secret_access_key"])


class Traffic:
    """Every request and response body boto3 sent and got, by size."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0

    def before_send(self, request: Any, **_: Any) -> None:
        self.sent += int(request.headers.get("Content-Length", 0))

    def after_call(self, http_response: Any, model: Any, **_: Any) -> None:
        # By its length, not its content: reading a GET's body here would consume it.
        if model.name != "HeadObject":
            self.received += int(http_response.headers.get("content-length", 0))


def usage_lines(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["meter"]: line for line in report["lines"] if line["region"] == REGION}


def test_boto3_traffic_is_metered_exactly_and_priced(metered: ServerProcess) -> None:
    operator = RequestsSigV4(Credentials(*metered.operator_credentials()))
    name, root = new_tenant(metered, operator)
    s3 = boto3.client(
        "s3",
        endpoint_url=metered.endpoint,
        aws_access_key_id=root.access_key,
        aws_secret_access_key=root.secret_key,
        region_name=REGION,
        config=Config(
            retries={"max_attempts": 1},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    traffic = Traffic()
    s3.meta.events.register("before-send.s3", traffic.before_send)
    s3.meta.events.register("after-call.s3", traffic.after_call)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    sizes = [1000, 2000, 4096]
    for i, size in enumerate(sizes):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=bytes([i]) * size)
    got = [s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() for i in range(2)]
    assert [len(g) for g in got] == sizes[:2]
    s3.head_object(Bucket=bucket, Key="k2")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 3
    s3.delete_object(Bucket=bucket, Key="k2")  # free, as on AWS
    assert traffic.sent >= sum(sizes) and traffic.received >= sum(sizes[:2])

    month = datetime.now(UTC).strftime("%Y-%m")
    as_root = RequestsSigV4(root)
    expected = {
        "s3.requests.class-a": 1 + 3 + 1,  # CreateBucket, 3 PUTs, the LIST
        "s3.requests.class-b": 2 + 1,  # 2 GETs, the HEAD
        "s3.transfer.in": traffic.sent,
        "s3.transfer.out": traffic.received,
    }
    deadline = time.monotonic() + 15
    while True:
        report = api(metered, "GET", f"/tenants/{name}/usage?month={month}", auth=as_root)
        assert report.status_code == 200, report.text
        lines = usage_lines(report.json())
        found = {meter: lines[meter]["quantity"] for meter in expected if meter in lines}
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == expected

    # The operator prices two meters and the region's VAT; the cost follows, to the cent.
    class_a, transfer_out = Decimal("777.7777"), Decimal("123456.789")
    for meter, price in (("s3.requests.class-a", class_a), ("s3.transfer.out", transfer_out)):
        put = api(
            metered,
            "PUT",
            f"/billing/prices/{REGION}/{meter}",
            json={"unit_price": str(price)},
            auth=operator,
        )
        assert put.status_code == 200, put.text
    assert api(
        metered, "PUT", f"/billing/vat-rates/{REGION}", json={"rate": "0.2"}, auth=operator
    ).json() == {"region": REGION, "rate": "0.2"}
    report = api(metered, "GET", f"/tenants/{name}/usage?month={month}", auth=as_root).json()
    lines = usage_lines(report)
    net_a = (Decimal(expected["s3.requests.class-a"]) / 1000 * class_a).quantize(
        CENT, ROUND_HALF_UP
    )
    net_out = (Decimal(traffic.received) / 2**30 * transfer_out).quantize(CENT, ROUND_HALF_UP)
    assert Decimal(lines["s3.requests.class-a"]["net"]) == net_a
    assert Decimal(lines["s3.transfer.out"]["net"]) == net_out
    assert Decimal(lines["s3.requests.class-a"]["vat"]) == (net_a * Decimal("0.2")).quantize(
        CENT, ROUND_HALF_UP
    )
    assert Decimal(lines["s3.requests.class-b"]["net"]) == 0  # no price set
    assert lines["s3.requests.class-b"]["unit_price"] is None
    assert Decimal(report["net"]) == net_a + net_out
    assert Decimal(report["total"]) == Decimal(report["net"]) + Decimal(report["vat"])

    # Another tenant learns nothing, not even that the tenant exists; the operator reads all.
    _, other = new_tenant(metered, operator)
    hidden = api(metered, "GET", f"/tenants/{name}/usage", auth=RequestsSigV4(other))
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    assert api(metered, "GET", f"/tenants/{name}/usage", auth=operator).status_code == 200
    as_csv = api(metered, "GET", f"/tenants/{name}/usage.csv?month={month}", auth=as_root)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[-1]["meter"] == "total" and Decimal(rows[-1]["net_eur"]) == net_a + net_out

    # The operator's command reads the same report from the data folder.
    printed = run_command(
        [str(ANDROMEDE), "admin", "usage", "--tenant", name, "--month", month, "--csv",
         "--data-dir", str(metered.data_dir)],
        check=True, timeout=60,
    )  # fmt: skip
    assert printed.stdout == as_csv.text
    # Exec'd, not forked from the launcher (support.launcher.run_command): the table's width
    # is read from COLUMNS when the console module is imported, which the launcher did.
    table = subprocess.run(
        [str(ANDROMEDE), "admin", "usage", "--tenant", name, "--month", month,
         "--data-dir", str(metered.data_dir)],
        check=True, capture_output=True, timeout=60, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert "s3.requests.class-a" in table.stdout and str(net_a + net_out) in table.stdout


def test_bad_prices_get_problem_details(metered: ServerProcess) -> None:
    operator = RequestsSigV4(Credentials(*metered.operator_credentials()))
    cases = [
        (f"/billing/prices/{REGION}/s3.storage", {"unit_price": "-0.01"}, 422, "validation-failed"),
        (f"/billing/prices/{REGION}/s3.storage", {"unit_price": "1e-20"}, 422, "validation-failed"),
        (f"/billing/prices/{REGION}/s3.storage", {"unit_price": 0.1}, 422, "validation-failed"),
        (f"/billing/prices/{REGION}/no.such.meter", {"unit_price": "1"}, 404, "no-such-meter"),
        ("/billing/prices/nowhere-1/s3.storage", {"unit_price": "1"}, 404, "no-such-region"),
        (f"/billing/vat-rates/{REGION}", {"rate": "1.5"}, 422, "validation-failed"),
    ]
    for path, body, status, slug in cases:
        answer = api(metered, "PUT", path, json=body, auth=operator)
        assert answer.status_code == status, (path, body, answer.text)
        assert answer.json()["type"] == f"urn:andromede:problem:{slug}"
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
    _, root = new_tenant(metered, operator)
    refused = api(
        metered,
        "PUT",
        f"/billing/prices/{REGION}/s3.storage",
        json={"unit_price": "1"},
        auth=RequestsSigV4(root),
    )
    assert refused.status_code == 403
    bad_month = api(metered, "GET", "/tenants/admin/usage?month=2026-13", auth=operator)
    assert bad_month.status_code == 422
    assert bad_month.json()["type"] == "urn:andromede:problem:validation-failed"
