"""A listing function's JSON ``listBucketResult`` (decision 0399), written as S3's
``ListBucketResult`` and read back by botocore's own parser, as a caller's SDK reads it."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser

from andromede.s3objectlambda.errors import ObjectLambdaError
from andromede.s3objectlambda.listing import list_bucket_result_xml
from andromede.s3objectlambda.returned import returned_response

CONTENT = {
    "key": "notes/a.txt",
    "lastModified": "2026-12-07T10:00:00.000Z",
    "eTag": '"abc"',
    "size": 12,
    "owner": {"displayName": "me", "id": "123"},
    "storageClass": "STANDARD",
}


def parsed(operation: str, body: bytes) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("s3")
    shape = model.operation_model(operation).output_shape
    response = {"status_code": 200, "headers": {}, "body": body}
    answer: dict[str, Any] = RestXMLParser().parse(response, shape)
    return answer


def test_list_objects_v2_json_is_read_by_botocore() -> None:
    result = {
        "name": "data-ap",
        "prefix": "notes/",
        "keyCount": 1,
        "maxKeys": 1000,
        "isTruncated": True,
        "nextContinuationToken": "next<&>",
        "contents": [CONTENT],
        "commonPrefixes": [{"prefix": "notes/sub/"}],
    }
    answer = parsed("ListObjectsV2", list_bucket_result_xml("ListObjectsV2", result))
    assert answer["KeyCount"] == 1 and answer["IsTruncated"] is True
    assert answer["NextContinuationToken"] == "next<&>"
    assert answer["Contents"][0]["Key"] == "notes/a.txt"
    assert answer["Contents"][0]["Size"] == 12
    assert answer["Contents"][0]["Owner"] == {"DisplayName": "me", "ID": "123"}
    assert answer["CommonPrefixes"] == [{"Prefix": "notes/sub/"}]


def test_list_objects_v1_json_has_markers() -> None:
    result = {"name": "data-ap", "marker": "a", "nextMarker": "b", "isTruncated": True,
        "contents": [CONTENT]}  # fmt: skip
    answer = parsed("ListObjects", list_bucket_result_xml("ListObjects", result))
    assert (answer["Marker"], answer["NextMarker"]) == ("a", "b")
    assert answer["Contents"][0]["ETag"] == '"abc"'


def test_the_functions_return_value_may_be_list_bucket_result() -> None:
    payload = json.dumps({"statusCode": 200, "listBucketResult": {"name": "x",
        "contents": [CONTENT]}}).encode()  # fmt: skip
    response = returned_response("ListObjectsV2", payload)
    assert response.status == 200
    assert b"<Key>notes/a.txt</Key>" in response.body


@pytest.mark.parametrize(
    "result",
    [[], {"contents": "a"}, {"contents": [{"key": {"nested": 1}}]}, {"commonPrefixes": [1]}],
)
def test_a_listing_not_of_aws_shape_is_lambda_invalid_response(result: object) -> None:
    payload = json.dumps({"statusCode": 200, "listBucketResult": result}).encode()
    with pytest.raises(ObjectLambdaError) as refused:
        returned_response("ListObjects", payload)
    assert refused.value.code == "LambdaInvalidResponse"
