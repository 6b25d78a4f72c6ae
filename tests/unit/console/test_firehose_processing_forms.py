"""The console's reading and writing of a Firehose destination's processors (decision 0359),
pure: delimiters shown escaped and typed back as base64, a described configuration read into
the form's row, and a form's processors sent in the order Firehose runs them (none: removed)."""

from __future__ import annotations

import base64

import pytest

from andromede.console.wire_firehose_processing import (
    ProcessorsForm,
    processing_configuration,
    processors_row,
    shown_delimiter,
    typed_delimiter,
)


@pytest.mark.parametrize("raw", ["\n", "\t", "\r\n", "|", "\\", "é;\\n", "a b"])
def test_a_delimiter_shown_escaped_and_typed_back_is_the_same(raw: str) -> None:
    encoded = base64.b64encode(raw.encode()).decode()
    shown = shown_delimiter(encoded)
    assert "\n" not in shown and "\t" not in shown
    assert typed_delimiter(shown) == encoded


def test_a_delimiter_that_is_not_base64_is_shown_as_described() -> None:
    assert shown_delimiter("not base64!") == "not base64!"
    assert typed_delimiter("") == ""


def test_a_described_configuration_read_and_written_back() -> None:
    described = {
        "RoleARN": "arn:aws:iam::123456789012:role/delivery",
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {"Type": "RecordDeAggregation", "Parameters": [
                    {"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"},
                    {"ParameterName": "Delimiter", "ParameterValue": "CQ=="}]},
                {"Type": "Lambda", "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": "arn:fn"},
                    {"ParameterName": "RoleArn",
                     "ParameterValue": "arn:aws:iam::123456789012:role/delivery"},
                    {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.2"}]},
                {"Type": "AppendDelimiterToRecord", "Parameters": []},
            ],
        },
    }  # fmt: skip
    row = processors_row(described, "arn:aws:iam::123456789012:role/delivery")
    assert row.enabled and row.kinds == ("RecordDeAggregation", "Lambda", "AppendDelimiterToRecord")
    assert (row.deaggregation, row.deaggregation_delimiter) == ("DELIMITED", "\\t")
    assert (row.lambda_arn, row.lambda_size_mb, row.lambda_role) == ("arn:fn", "0.2", "")
    assert row.append_delimiter and row.append_delimiter_text == ""
    form = ProcessorsForm(
        lambda_arn=row.lambda_arn, lambda_size_mb=row.lambda_size_mb,
        deaggregation=row.deaggregation, deaggregation_delimiter=row.deaggregation_delimiter,
        append_delimiter=True, decompression=True, message_extraction=True, query=".x",
    )  # fmt: skip
    sent = processing_configuration(form)
    assert sent["Enabled"] is True
    assert [p["Type"] for p in sent["Processors"]] == [
        "Decompression", "CloudWatchLogProcessing", "RecordDeAggregation",
        "MetadataExtraction", "Lambda", "AppendDelimiterToRecord",
    ]  # fmt: skip
    lambda_parameters = sent["Processors"][4]["Parameters"]
    assert lambda_parameters == [
        {"ParameterName": "LambdaArn", "ParameterValue": "arn:fn"},
        {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.2"},
    ]  # the empty ones left to Firehose's defaults
    assert sent["Processors"][2]["Parameters"][1] == {
        "ParameterName": "Delimiter", "ParameterValue": "CQ=="}  # fmt: skip
    assert sent["Processors"][5]["Parameters"] == []  # Firehose's newline


def test_no_processor_asked_removes_them() -> None:
    assert not ProcessorsForm().wanted
    assert processing_configuration(ProcessorsForm()) == {"Enabled": False, "Processors": []}
    assert processors_row({}, "").kinds == ()
