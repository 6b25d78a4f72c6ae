"""``andromede serve`` exec'd as an operator starts it, its settings from a TOML file and
``ANDROMEDE_*`` environment variables at once, driven with boto3.

What it proves, now that ``Settings`` is composed of one group per concern: a TOML key of the
S3 group (``max_key_length``) and a TOML array of tables of the storage group (``[[regions]]``)
reach every worker (``workers = 2``: the serving process hands its settings to the workers over
the environment, each group's fields parsed back); an environment variable beats the file
(``max_object_tags``: 10 in the file, 2 in the environment); each limit is answered with S3's
own error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from support.rawclient import boto3_client_for
from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e

_CONFIG = f"""\
workers = 2
max_key_length = 100
max_object_tags = 10

[[regions]]
name = "{REGION}"
jurisdiction = "FR"

[[regions]]
name = "eu-de-1"
jurisdiction = "DE"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("sources")
    config = root / "andromede.toml"
    config.write_text(_CONFIG)
    with running_server(
        root / "data",
        fresh_interpreter=True,
        extra_args=["--config", str(config)],
        extra_env={"ANDROMEDE_MAX_OBJECT_TAGS": "2"},
    ) as started:
        yield started


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_file_and_environment_reach_every_worker(server: ServerProcess) -> None:
    s3 = boto3_client_for(server)
    bucket = f"sources-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    # Several requests: with two workers each is as likely to be answered by either.
    for _ in range(6):
        s3.put_object(Bucket=bucket, Key="k" * 100, Body=b"x")
        with pytest.raises(ClientError) as too_long:
            s3.put_object(Bucket=bucket, Key="k" * 101, Body=b"x")
        assert _code(too_long) == "KeyTooLongError"
        assert too_long.value.response["ResponseMetadata"]["RequestId"]
        s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=1&b=2")
        with pytest.raises(ClientError) as too_many:
            s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=1&b=2&c=3")
        assert too_many.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_regions_from_the_file(server: ServerProcess) -> None:
    s3 = boto3_client_for(server)
    bucket = f"sources-de-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-de-1"})
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-de-1"
    with pytest.raises(ClientError) as unknown:
        s3.create_bucket(
            Bucket=f"sources-xx-{uuid.uuid4().hex[:12]}",
            CreateBucketConfiguration={"LocationConstraint": "eu-xx-9"},
        )
    assert _code(unknown) == "InvalidLocationConstraint"
