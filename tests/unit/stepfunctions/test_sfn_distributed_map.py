"""Decision 0322's distributed Map: its fields validated as AWS's (ItemReader, ItemBatcher,
ResultWriter, tolerance, Label; refused on an INLINE Map), its items read (a JSON array, CSV
rows with the first row's or the given headers, listObjectsV2's objects), batched, the
tolerance rule, ResultWriter's layout; and a run through the interpreter: child executions
of their own context, MaxConcurrency, tolerated failures, the threshold's error, the Map
run's events and counts, the results written."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import pytest

from andromede.stepfunctions.definition import check_definition
from andromede.stepfunctions.distributed_map import MapRunHost
from andromede.stepfunctions.halting import StopSignals
from andromede.stepfunctions.interpreter import Interpreter, StatesError
from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_items import (
    batches,
    exceeds_tolerance,
    items_of_object,
    listed_item,
    result_files,
)
from andromede.stepfunctions.map_readers import Named
from andromede.stepfunctions.map_redrive import Redrive
from andromede.stepfunctions.map_runs import MapRun

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:eu-fr-1:000000000001:execution:m:e", "Name": "e",
                  "RoleArn": "arn:aws:iam::000000000001:role/r"},
    "StateMachine": {"Id": "arn:aws:states:eu-fr-1:000000000001:stateMachine:m", "Name": "m"},
}  # fmt: skip
READ_JSON = {"Resource": "arn:aws:states:::s3:getObject",
             "ReaderConfig": {"InputType": "JSON"},
             "Parameters": {"Bucket": "b", "Key.$": "$.key"}}  # fmt: skip


def distributed(**fields: Any) -> dict[str, Any]:
    processor = fields.pop(
        "processor", {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    )
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            **processor},
        **fields}}}  # fmt: skip


def said(definition: dict[str, Any]) -> list[str]:
    return [d.said() for d in check_definition(definition)]


def test_a_distributed_map_of_awss_fields_passes() -> None:
    assert said(distributed(
        ItemReader=READ_JSON, ItemSelector={"v.$": "$$.Map.Item.Value"},
        ItemBatcher={"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 1024,
                     "BatchInput": {"k": 1}},
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "out", "Prefix": "runs"}},
        MaxConcurrency=100, ToleratedFailurePercentage=5, ToleratedFailureCount=3, Label="lbl",
    )) == []  # fmt: skip
    assert said(distributed(ItemReader={
        "Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"},
        "ReaderConfig": {"MaxItems": 5}})) == []  # fmt: skip
    assert said(distributed(ItemReader={
        "Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                         "CSVHeaders": ["a", "b"]}})) == []  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ItemReader": {**READ_JSON, "ReaderConfig": {"InputType": "XML"}}},
         "The field 'InputType' should have one of these values: [CSV, JSON, JSONL, PARQUET, "
         "MANIFEST] at /States/M/ItemReader/ReaderConfig"),
        ({"ItemReader": {**READ_JSON, "Resource": "arn:aws:states:::s3:putObject"}},
         "The resource of an ItemReader must be one of"),
        ({"ItemReader": {**READ_JSON, "Parameters": {"Bucket": "b"}}},
         "These fields are required: [Key] at /States/M/ItemReader/Parameters"),
        ({"ItemReader": {**READ_JSON, "ReaderConfig": {"InputType": "CSV"}}},
         "The field 'CSVHeaderLocation' should have one of these values: [FIRST_ROW, GIVEN]"),
        ({"ItemReader": {**READ_JSON, "ReaderConfig": {
            "InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}},
         "The field 'CSVHeaders' is required when 'CSVHeaderLocation' is GIVEN"),
        ({"ItemBatcher": {"BatchInput": {}}},
         "At least one of these fields is required: [MaxItemsPerBatch, MaxInputBytesPerBatch]"),
        ({"ItemBatcher": {"MaxInputBytesPerBatch": 300_000}},
         "The field 'MaxInputBytesPerBatch' must be an integer between 1 and 262144"),
        ({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject",
                           "Parameters": {"Bucket": "b"}}},
         "The resource of a ResultWriter must be arn:aws:states:::s3:putObject"),
        ({"ToleratedFailurePercentage": 101},
         "The field 'ToleratedFailurePercentage' must be a number between 0 and 100"),
        ({"ToleratedFailureCount": -1},
         "The field 'ToleratedFailureCount' must be a non-negative integer"),
        ({"Label": "has space"}, "The field 'Label' must be at most 40 characters"),
        ({"ToleratedFailurePercentagePath": "p"},
         "The value for the field 'ToleratedFailurePercentagePath' must be a valid JSONPath"),
        ({"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.c"},
         "Only one of these fields may be given: [ToleratedFailureCount, "
         "ToleratedFailureCountPath]"),
    ],
)  # fmt: skip
def test_distributed_fields_are_checked(fields: dict[str, Any], expected: str) -> None:
    found = said(distributed(**fields))
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith("SCHEMA_VALIDATION_FAILED: ")


def test_distributed_fields_on_an_inline_map_are_refused() -> None:
    """(A distributed Map in a JSONata state, refused here until decision 0338, is
    ``test_sfn_jsonata_map``'s.)"""
    inline = distributed(ItemReader=READ_JSON)
    inline["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    assert said(inline) == [
        "SCHEMA_VALIDATION_FAILED: The field 'ItemReader' is only supported in DISTRIBUTED "
        "mode at /States/M/ItemReader"
    ]


def test_items_of_json_and_csv_objects() -> None:
    assert items_of_object('[{"a": 1}, 2]', {"InputType": "JSON"}) == [{"a": 1}, 2]
    assert items_of_object('{"a": 1}\n\n2\n', {"InputType": "JSONL"}) == [{"a": 1}, 2]
    # A top-level object's entries are the items (decision 0358); a scalar is refused.
    assert items_of_object('{"a": 1}', {"InputType": "JSON"}) == [{"Key": "a", "Value": 1}]
    with pytest.raises(StatesError) as raised:
        items_of_object('"a"', {"InputType": "JSON"})
    assert raised.value.error == "States.ItemReaderFailed"
    first_row = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
    assert items_of_object('name,qty\r\n"a, b",3\nc,\n', first_row) == [
        {"name": "a, b", "qty": "3"}, {"name": "c", "qty": ""}]  # fmt: skip
    given = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["x", "y"]}
    assert items_of_object("1,2\n3\n", given) == [{"x": "1", "y": "2"}, {"x": "3", "y": ""}]
    # AWS's rule: fields beyond the headers are skipped
    assert items_of_object("1,2,3\n", given) == [{"x": "1", "y": "2"}]
    assert listed_item("k", "abc", 1_700_000_000_999, 7, "") == {
        "Etag": '"abc"', "Key": "k", "LastModified": 1_700_000_000, "Size": 7,
        "StorageClass": "STANDARD"}  # fmt: skip


def test_batches_by_count_and_by_bytes() -> None:
    assert batches([1, 2, 3], 2, None, None) == [{"Items": [1, 2]}, {"Items": [3]}]
    assert batches([1, 2, 3], 5, None, {"k": "v"}) == [
        {"BatchInput": {"k": "v"}, "Items": [1, 2, 3]}]  # fmt: skip
    # {"Items":[]} is 12 bytes; each "xxxx" item 6, with its comma 7.
    assert batches(["xxxx"] * 3, None, 25, None) == [{"Items": ["xxxx", "xxxx"]},
                                                     {"Items": ["xxxx"]}]  # fmt: skip
    with pytest.raises(StatesError, match="larger than MaxInputBytesPerBatch"):
        batches(["x" * 50], None, 20, None)


def test_tolerance_rule() -> None:
    assert not exceeds_tolerance(0, 10, None, None)
    assert exceeds_tolerance(1, 10, None, None)
    assert not exceeds_tolerance(2, 10, None, 2) and exceeds_tolerance(3, 10, None, 2)
    assert not exceeds_tolerance(1, 10, 10.0, None) and exceeds_tolerance(2, 10, 10.0, None)
    assert exceeds_tolerance(2, 10, 10.0, 5)  # either threshold passed fails the run


def test_result_files_layout() -> None:
    children = {"SUCCEEDED": [{"n": 1}, {"n": 2}, {"n": 3}], "FAILED": [{"n": 4}]}
    files, key, manifest = result_files("out/", "id", "bkt", "arn:run", children, 2)
    assert [k for k, _ in files] == ["out/id/SUCCEEDED_0.json", "out/id/SUCCEEDED_1.json",
                                     "out/id/FAILED_0.json"]  # fmt: skip
    assert key == "out/id/manifest.json"
    parsed = json.loads(manifest)
    assert parsed["DestinationBucket"] == "bkt" and parsed["MapRunArn"] == "arn:run"
    assert parsed["ResultFiles"]["PENDING"] == []
    assert parsed["ResultFiles"]["SUCCEEDED"][1] == {"Key": "out/id/SUCCEEDED_1.json",
                                                     "Size": len(files[1][1])}  # fmt: skip


class Host:
    def __init__(self, objects: dict[str, str], cap: int = 1000) -> None:
        self.objects = objects
        self.cap = cap
        self.written: dict[str, str] = {}
        self.runs: list[MapRun] = []
        self.children: dict[str, MapChild] = {}  # each child as last recorded (0369)
        self.kept = 1000
        self.most_events = 25_000
        self.running = 0
        self.most_running = 0
        self.contexts: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {k: v.encode() for k, v in objects.items()}
        self.chunks_read = 0
        self.named: dict[str, Named | None] = {}  # what each read was given (decision 0358)

    def most_children(self) -> int:
        return self.cap

    def most_items(self) -> int:
        return 20

    async def read_object(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> str:
        assert context["Execution"]["RoleArn"].endswith("role/r")
        self.named[f"{bucket}/{key}"] = named
        if f"{bucket}/{key}" not in self.objects:
            raise StatesError("S3.NoSuchKey", "The specified key does not exist.")
        return self.objects[f"{bucket}/{key}"]

    def most_record_bytes(self) -> int:
        return 1024

    async def object_chunks(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[bytes]:
        """In pieces of 5 bytes, so records are cut across chunks as S3 cuts them."""
        self.named[f"{bucket}/{key}"] = named
        data = self.blobs.get(f"{bucket}/{key}")
        if data is None:
            raise StatesError("States.ItemReaderFailed", f"S3 error: NoSuchKey: {key}")
        for start in range(0, len(data), 5):
            self.chunks_read += 1
            yield data[start : start + 5]

    async def parquet_rows(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        self.named[f"{bucket}/{key}"] = named
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(pa.BufferReader(self.blobs[f"{bucket}/{key}"]))
        for batch in parquet.iter_batches(batch_size=2):
            yield batch.to_pylist()

    async def list_objects(
        self, context: Mapping[str, Any], bucket: str, prefix: str, named: Named | None = None
    ) -> list[dict[str, Any]]:
        self.named[f"{bucket}/"] = named
        return [listed_item(k.split("/", 1)[1], "e", 0, len(v), "STANDARD")
                for k, v in sorted(self.objects.items())
                if k.startswith(f"{bucket}/{prefix}")]  # fmt: skip

    async def write_object(
        self, context: Mapping[str, Any], bucket: str, key: str, body: str
    ) -> None:
        self.written[f"{bucket}/{key}"] = body

    async def record(self, run: MapRun) -> MapRun:
        self.runs.append(run)
        return run

    def most_children_kept(self) -> int:
        return self.kept

    def most_history_events(self) -> int:
        return self.most_events

    async def record_child(self, child: MapChild) -> bool:
        self.children[child.arn] = child
        return True

    async def child_stopped(self, child: MapChild) -> bool:
        return False

    def stops(self) -> StopSignals | None:
        return None

    async def redrive_run(self, tenant_id: str, arn: str, now: int) -> Redrive | None:
        return None  # never redriven: a redrive starts a new run

    async def runs_of(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        return []

    async def redrive_child(self, child: MapChild, now: int) -> MapChild | None:
        return None


class Tasks:
    def __init__(self, host: Host) -> None:
        self.host = host

    def map_runs(self) -> MapRunHost:
        return self.host

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        import asyncio

        self.host.contexts.append(context)
        self.host.running += 1
        self.host.most_running = max(self.host.most_running, self.host.running)
        await asyncio.sleep(0)
        self.host.running -= 1
        if parameters.get("key_error"):
            raise KeyError("a value of the wrong kind")
        if parameters.get("fail"):
            raise StatesError("Boom", f"item {parameters.get('n')}")
        return {"done": parameters.get("n")}


TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                                         "Resource": "arn:aws:states:::sns:publish"}}}  # fmt: skip


async def run(definition: dict[str, Any], data: Any, host: Host) -> tuple[Any, list[str]]:
    tasks = Tasks(host)
    machine = Interpreter(definition, CONTEXT, tasks)
    step = await machine.step(machine.start(data))
    kinds = [e.type for e in step.events]
    if step.error is not None:
        return step.error, kinds
    return step.output, kinds


async def test_a_json_object_runs_as_child_executions_with_results_written() -> None:
    items = [{"n": i} for i in range(5)]
    host = Host({"b/in.json": json.dumps(items)})
    definition = distributed(
        processor=TASK, ItemReader=READ_JSON, MaxConcurrency=2, Label="lbl",
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "out", "Prefix": "res"}})  # fmt: skip
    output, kinds = await run(definition, {"key": "in.json"}, host)
    run_arn = output["MapRunArn"]
    assert run_arn.startswith("arn:aws:states:eu-fr-1:000000000001:mapRun:m/lbl:")
    run_id = run_arn.rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {"Bucket": "out",
                                             "Key": f"res/{run_id}/manifest.json"}  # fmt: skip
    assert kinds == ["MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
                     "MapStateSucceeded", "MapStateExited"]  # fmt: skip
    assert host.most_running <= 2
    succeeded = json.loads(host.written[f"out/res/{run_id}/SUCCEEDED_0.json"])
    assert sorted(json.loads(r["Output"])["done"] for r in succeeded) == [0, 1, 2, 3, 4]
    assert all(r["ExecutionArn"].startswith("arn:aws:states:eu-fr-1:000000000001:execution:"
                                            "m/lbl:") for r in succeeded)  # fmt: skip
    final = host.runs[-1]
    assert final.status == "SUCCEEDED" and final.stopped is not None
    assert final.item_counts["succeeded"] == 5 and final.item_counts["resultsWritten"] == 5
    assert final.max_concurrency == 2


async def test_the_first_children_are_kept_with_their_history() -> None:
    """Decision 0369: each child recorded as it begins and ends, the first ``kept`` of them;
    a STANDARD child with its history, an EXPRESS one without."""
    host = Host({})
    host.kept = 2
    definition = distributed(processor=TASK, ItemsPath="$.items", MaxConcurrency=1,
                             ToleratedFailureCount=1)  # fmt: skip
    output, _ = await run(definition, {"items": [{"n": 0}, {"n": 1, "fail": True}, {"n": 2}]},
                          host)  # fmt: skip
    assert output[2] == {"done": 2}  # three ran, two kept
    assert len(host.children) == 2
    kept = sorted(host.children.values(), key=lambda c: c.started)
    assert [json.loads(c.input)["n"] for c in kept] == [0, 1]
    assert [c.status for c in kept] == ["SUCCEEDED", "FAILED"]
    assert kept[0].output == '{"done":0}' and kept[1].error == "Boom"
    kinds = [e.type for e in kept[0].history]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert "TaskSucceeded" in kinds and kept[1].history[-1].type == "ExecutionFailed"
    assert all(c.run_arn == host.runs[-1].arn and c.item_count == 1 for c in kept)
    express = Host({})
    definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    await run(definition, {"items": [{"n": 0}]}, express)
    (only,) = express.children.values()
    assert ":express:" in only.arn and only.history == () and only.status == "SUCCEEDED"


async def test_a_child_past_the_history_limit_fails_and_is_not_redrivable() -> None:
    """Decision 0383: a STANDARD child whose history would pass the execution event limit
    fails ``States.Runtime`` (its history cut, as the runner cuts an execution's), counted
    failed and ``failuresNotRedrivable``."""
    host = Host({})
    host.most_events = 7  # ExecutionStarted, the Task's 5 events and the end: 7 fit
    passes = {"StartAt": "P1", "States": {"P1": {"Type": "Pass", "Next": "T"}, **TASK["States"]}}
    definition = distributed(processor=passes, ItemsPath="$.items", ToleratedFailureCount=1)
    error, _ = await run(definition, {"items": [{"n": 0}, {"n": 1}]}, host)
    assert output_of(error) is None
    assert [c.status for c in host.children.values()] == ["FAILED", "FAILED"]
    (child, _) = host.children.values()
    assert (child.error, len(child.history)) == ("States.Runtime", 7)
    assert child.history[-1].type == "ExecutionFailed"
    counts = host.runs[-1].item_counts
    assert (counts["failed"], counts["failuresNotRedrivable"]) == (2, 2)
    fits = Host({})
    fits.most_events = 7
    await run(distributed(processor=TASK, ItemsPath="$.items"), {"items": [{"n": 0}]}, fits)
    assert [c.status for c in fits.children.values()] == ["SUCCEEDED"]


async def test_a_looping_child_fails_as_it_crosses_the_history_limit() -> None:
    """Decision 0393: the limit applies as the child runs — a child that would loop for
    ever fails ``States.Runtime`` once its history crosses it, its history cut there."""
    import asyncio

    host = Host({})
    host.most_events = 20
    looping = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": None,
              "Next": "Again"},
        "Again": {"Type": "Choice", "Default": "T",
                  "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    definition = distributed(processor=looping, ItemsPath="$.items", ToleratedFailureCount=1)
    await asyncio.wait_for(run(definition, {"items": [{"n": 0}]}, host), 20)
    (child,) = host.children.values()
    assert (child.status, child.error) == ("FAILED", "States.Runtime")
    assert len(child.history) == 20 and child.history[-1].type == "ExecutionFailed"
    counts = host.runs[-1].item_counts
    assert (counts["failed"], counts["failuresNotRedrivable"]) == (1, 1)


def output_of(error: Any) -> Any:
    return None if isinstance(error, StatesError) else error


async def test_children_have_their_own_execution_context_and_batches() -> None:
    host = Host({"b/a/1": "x", "b/a/2": "yy", "b/z": "no"})
    definition = distributed(
        processor=TASK,
        ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "b", "Prefix": "a/"}},
        ItemBatcher={"MaxItemsPerBatch": 5})  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert len(output) == 1 and output[0] == {"done": None}
    (child,) = host.contexts
    assert child["Execution"]["Id"].startswith("arn:aws:states:eu-fr-1:000000000001:execution:m/")
    assert child["Execution"]["Input"]["Items"][1]["Key"] == "a/2"
    assert child["Execution"]["RoleArn"] == "arn:aws:iam::000000000001:role/r"
    final = host.runs[-1]
    assert final.item_counts["total"] == 2 and final.execution_counts["total"] == 1


async def test_failures_within_tolerance_succeed_beyond_it_fail() -> None:
    items = [{"n": i, "fail": i < 2} for i in range(10)]
    host = Host({})
    tolerant = distributed(processor=TASK, ItemsPath="$.items", ToleratedFailureCount=2)
    output, _ = await run(tolerant, {"items": items}, host)
    assert output[0] == {"Error": "Boom", "Cause": "item 0"} and output[9] == {"done": 9}
    strict = distributed(processor=TASK, ItemsPath="$.items", ToleratedFailurePercentage=10,
                         MaxConcurrency=1)  # fmt: skip
    error, kinds = await run(strict, {"items": items}, host)
    assert isinstance(error, StatesError)
    assert error.error == "States.ExceedToleratedFailureThreshold"
    assert kinds[-2:] == ["MapRunFailed", "MapStateFailed"]
    final = host.runs[-1]
    assert final.status == "FAILED" and final.item_counts["failed"] == 2
    assert final.item_counts["pending"] == 8  # no child began once the threshold was passed


async def test_thresholds_read_from_the_input_by_their_paths() -> None:
    items = [{"n": i, "fail": i < 2} for i in range(10)]
    tolerant = distributed(processor=TASK, ItemsPath="$.items",
                           ToleratedFailurePercentagePath="$.share")  # fmt: skip
    output, _ = await run(tolerant, {"items": items, "share": 20}, Host({}))
    assert output[9] == {"done": 9}
    error, _ = await run(tolerant, {"items": items, "share": 10}, Host({}))
    assert isinstance(error, StatesError)
    assert error.error == "States.ExceedToleratedFailureThreshold"
    counted = distributed(processor=TASK, ItemsPath="$.items",
                          ToleratedFailureCountPath="$.most")  # fmt: skip
    error, _ = await run(counted, {"items": items, "most": "two"}, Host({}))
    assert isinstance(error, StatesError) and error.error == "States.Runtime"


async def test_a_childs_runtime_error_fails_only_that_child() -> None:
    host = Host({})
    definition = distributed(processor=TASK, ToleratedFailureCount=1)
    output, _ = await run(definition, [{"n": 0}, {"n": 1, "key_error": True}], host)
    assert output[0] == {"done": 0} and output[1]["Error"] == "States.Runtime"
    assert "KeyError" in output[1]["Cause"]
    assert host.runs[-1].status == "SUCCEEDED" and host.runs[-1].item_counts["failed"] == 1


async def test_a_missing_object_fails_the_state_in_s3s_words() -> None:
    error, _ = await run(distributed(ItemReader=READ_JSON), {"key": "nope"}, Host({}))
    assert isinstance(error, StatesError) and error.error == "S3.NoSuchKey"


async def test_the_gateways_bound_on_items() -> None:
    items = [{"n": i} for i in range(21)]
    error, _ = await run(distributed(processor=TASK, ItemReader=READ_JSON), {"key": "k"},
                         Host({"b/k": json.dumps(items)}))  # fmt: skip
    assert isinstance(error, StatesError) and error.error == "States.ItemReaderFailed"
    assert "More than 20 items" in error.cause
    output, _ = await run(distributed(processor=TASK, ItemReader={
        **READ_JSON, "ReaderConfig": {"InputType": "JSON", "MaxItems": 3}}), {"key": "k"},
        Host({"b/k": json.dumps(items)}))  # fmt: skip
    assert [o["done"] for o in output] == [0, 1, 2]


async def test_the_gateways_cap_bounds_the_children() -> None:
    host = Host({}, cap=1)
    items = [{"n": i} for i in range(4)]
    output, _ = await run(distributed(processor=TASK, ItemsPath="$"), items, host)
    assert [o["done"] for o in output] == [0, 1, 2, 3]
    assert host.most_running == 1


async def test_a_child_execution_sees_none_of_the_parents_variables() -> None:
    """Decision 0329: a distributed Map's children are executions of their own, as AWS's: the
    parent's variables are not theirs (an inline Map's iterations read them)."""
    reads = {"StartAt": "I", "States": {"I": {
        "Type": "Pass", "Parameters": {"seen.$": "$outer"}, "End": True}}}  # fmt: skip
    definition = distributed(processor=reads, ItemReader=READ_JSON, ToleratedFailureCount=5)
    definition["StartAt"] = "Set"
    definition["States"]["Set"] = {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"}
    machine = Interpreter(definition, CONTEXT, Tasks(Host({"b/in.json": "[1, 2]"})))
    first = await machine.step(machine.start({"key": "in.json"}))
    assert first.cursor is not None and first.cursor.variables == {"outer": 1}
    mapped = await machine.step(first.cursor)
    assert (
        mapped.output
        == [{"Error": "States.Runtime", "Cause": "The variable $outer is not set"}] * 2
    )
