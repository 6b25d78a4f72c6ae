"""Durability on a bluestore Ceph: every object a gateway acknowledged survives the cluster's
daemons being killed (``kill -9`` of the mon, mgr and OSD, no clean shutdown) and restarted.

memstore, which the rest of the suite uses for speed, keeps nothing across a restart; bluestore
on a sparse file is the durable store of the benchmark and of an operator's trial, and this is
the test of its contract with the gateway: a PUT is acknowledged only once RADOS has the bytes
on disk. Requests during the outage fail with 503, never with a 500 or wrong bytes; and the
gateway, not restarted, finds its way back once the cluster is up again: its blob store replaces
a librados client that lost the cluster by a new one (storage/blob_rados.py, "Recovery").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from support.ceph import POOL, USER, CephCluster, start_cluster, stop_cluster
from support.server import REGION, ServerProcess, running_server

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def bluestore() -> Iterator[CephCluster]:
    if shutil.which("ceph-mon") is None:
        pytest.skip("Ceph is not installed (scripts/install-system-deps.sh)")
    pytest.importorskip("rados", reason="python3-rados is not importable")
    directory = Path(tempfile.mkdtemp(prefix="andromede-blue."))
    cluster = start_cluster(
        directory, "--objectstore", "bluestore", "--bluestore-bytes", str(4 * 1024**3)
    )
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def gateway(
    bluestore: CephCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_BLOB_BACKEND": "rados",
        "ANDROMEDE_CEPH_CONF": str(bluestore.conf),
        "ANDROMEDE_CEPH_KEYRING": str(bluestore.keyring),
        "ANDROMEDE_CEPH_USER": USER,
        "ANDROMEDE_CEPH_POOL": POOL,
        "ANDROMEDE_RADOS_STRIPE_SIZE": str(1024 * 1024),
        "ANDROMEDE_CEPH_OP_TIMEOUT": "10",
    }
    with running_server(tmp_path_factory.mktemp("blue") / "data", extra_env=env) as server:
        yield server


def _s3(server: ServerProcess) -> object:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "s3", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      read_timeout=30),
    )  # fmt: skip


def _kill_daemons(cluster: CephCluster) -> int:
    killed = 0
    for pidfile in (cluster.directory / "run").glob("*.pid"):
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue
    return killed


def test_acknowledged_objects_survive_the_cluster_being_killed(
    gateway: ServerProcess, bluestore: CephCluster
) -> None:
    s3 = _s3(gateway)
    assert gateway.process is not None
    gateway_pid = gateway.process.pid
    s3.create_bucket(  # type: ignore[attr-defined]
        Bucket="durable", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    written: dict[str, str] = {}
    for index in range(40):
        body = os.urandom(4096 if index % 10 else 3 * 1024 * 1024 + 17)  # small and striped
        s3.put_object(Bucket="durable", Key=f"k{index}", Body=body)  # type: ignore[attr-defined]
        written[f"k{index}"] = hashlib.sha256(body).hexdigest()

    assert _kill_daemons(bluestore) >= 3  # mon, mgr, OSD
    time.sleep(1)
    # During the outage: a clear 503 (or a timeout), never wrong bytes.
    try:
        s3.get_object(Bucket="durable", Key="k1")["Body"].read()  # type: ignore[attr-defined]
        outage_answer = "served"  # a cached read may still be served: acceptable
    except ClientError as exc:
        outage_answer = str(exc.response["Error"]["Code"])
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503, exc.response
    except (ReadTimeoutError, EndpointConnectionError):
        outage_answer = "timeout"
    assert outage_answer in {"served", "ServiceUnavailable", "SlowDown", "timeout"}

    start_cluster(bluestore.directory)  # the same folder: the same bluestore file
    # The same gateway process: no restart. Until its new librados client is connected,
    # requests get 503 (or time out while a stale client's operation does), never a 500.
    deadline = time.monotonic() + 120
    read: dict[str, str] = {}
    last_error = ""
    while len(read) < len(written) and time.monotonic() < deadline:
        for key in written.keys() - read.keys():
            try:
                body = s3.get_object(Bucket="durable", Key=key)["Body"].read()  # type: ignore[attr-defined]
            except ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status == 503, exc.response
                last_error = repr(exc)
                time.sleep(0.5)  # the gateway reconnecting
                break
            except (ReadTimeoutError, EndpointConnectionError) as exc:
                last_error = repr(exc)
                break
            read[key] = hashlib.sha256(body).hexdigest()
    assert read == written, last_error
    # Writes work again too, through the same process.
    body = os.urandom(2 * 1024 * 1024 + 5)
    s3.put_object(Bucket="durable", Key="after", Body=body)  # type: ignore[attr-defined]
    got = s3.get_object(Bucket="durable", Key="after")["Body"].read()  # type: ignore[attr-defined]
    assert got == body
    assert gateway.process.pid == gateway_pid and gateway.process.poll() is None
