"""A distributed Map state run (decision 0322): its items read (``ItemReader``: an S3
object's JSON array or CSV rows, or the objects ``listObjectsV2`` lists; an inventory's or
Athena's manifest, Parquet or a gzip object through ``map_readers``, decision 0345; the
listed objects' own items under ``LOAD_AND_FLATTEN``, decision 0352; else ``ItemsPath``),
``MaxItems`` kept, each item through ``ItemSelector`` (``$$.Map.Item``: its ``Index``,
``Value``, an object's entry's ``Key`` and, read from S3, ``Source``), grouped by
``ItemBatcher``, and each item or batch run as a child execution of the Map run — its own
``$$.Execution`` (``<machine>/<label>:<uuid>``), the ``ItemProcessor``'s states run by the
interpreter, at most ``MaxConcurrency`` at once and never more than the gateway's cap.

A child's failure does not stop the others: the run fails with
``States.ExceedToleratedFailureThreshold`` once the failures pass ``ToleratedFailurePercentage``
/ ``ToleratedFailureCount`` (no child begins after, and those running are stopped — ABORTED,
their history its states' ``…Aborted`` events then ``ExecutionAborted``, counted aborted:
decision 0416), else succeeds. ``ResultWriter`` writes
AWS's ``SUCCEEDED_n.json`` / ``FAILED_n.json`` / ``PENDING_n.json`` and ``manifest.json`` under
``<Prefix>/<run id>/`` and the state's result is ``{"MapRunArn", "ResultWriterDetails"}``;
without it, the children's outputs in order (a failed child's ``{"Error", "Cause"}``).
``WriterConfig`` shapes the files, or alone the state's result (``map_results``). The
history has ``MapRunStarted`` and ``MapRunSucceeded`` / ``MapRunFailed``; the run and its counts
are recorded through :class:`MapRunHost` (DescribeMapRun, ListMapRuns), which also reads and
writes S3 as the state machine's role. Its execution stopped or timed out while its children
run, the history has ``MapRunAborted`` then ``MapStateAborted`` (decision 0407); a kept
child's own StopExecution in this process reaches it at once (:meth:`MapRunHost.stops`).

A JSONata state (decision 0338) gives the same fields as values or expressions, its S3 calls'
``Arguments`` in place of ``Parameters`` (``map_fields`` reads them in either language); its
``Output`` and ``Assign`` read the run's result as ``$states.result``, as any state's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from andromede.stepfunctions import map_entries, map_fields, state_data
from andromede.stepfunctions.halting import StopSignals
from andromede.stepfunctions.interpreter import (
    ChildStopped,
    Event,
    Halted,
    HistoryFull,
    StatesError,
)
from andromede.stepfunctions.map_checks import GET_OBJECT, LIST_OBJECTS
from andromede.stepfunctions.map_children import MapChild, capped_history, child_history
from andromede.stepfunctions.map_items import (
    READER_FAILED,
    batches,
    exceeds_tolerance,
    positioned_items,
    result_files,
)
from andromede.stepfunctions.map_named import NamedReads, named_by
from andromede.stepfunctions.map_readers import (
    LOAD_AND_FLATTEN,
    Named,
    ObjectSource,
    flattened_items,
    is_streamed,
    source_of,
    streamed_items,
)
from andromede.stepfunctions.map_redrive import (
    RUN_KEY,
    Redrive,
    kept_record,
    redriven_history,
    run_to_redrive,
    stopped_run,
)
from andromede.stepfunctions.map_results import shaped, writer_config
from andromede.stepfunctions.map_runs import (
    ABORTED,
    MapRun,
    child_execution_arn,
    child_machine_arn,
    map_run_arn,
)

if TYPE_CHECKING:
    from andromede.stepfunctions.interpreter import Interpreter

__all__ = ["HostsMapRuns", "MapRunHost", "run_map"]

THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"
_RESULTS_PER_FILE: Final = 1000
_RECORD_EVERY_MS: Final = 1000  # counts written at most this often while the run goes on
_OUTCOMES: Final = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ABORTED": "aborted",
                    "TIMED_OUT": "timedOut"}  # fmt: skip
_ABORTED_ERROR: Final = "States.Aborted"


class MapRunHost(ObjectSource, Protocol):
    def most_children(self) -> int:
        """The gateway's cap on one Map run's children running at once."""
        ...

    def most_items(self) -> int:
        """The most items one Map run reads."""
        ...

    def most_record_bytes(self) -> int:
        """The most bytes of one record a streamed reader holds (``map_readers``)."""
        ...

    async def list_objects(
        self, context: Mapping[str, Any], bucket: str, prefix: str, named: Named | None = None
    ) -> list[dict[str, Any]]:
        """The objects under ``prefix``; ``named``: the bucket's expected owner."""
        ...

    async def write_object(
        self, context: Mapping[str, Any], bucket: str, key: str, body: str
    ) -> None: ...

    async def record(self, run: MapRun) -> MapRun:
        """The run stored; answers it as stored (UpdateMapRun's settings)."""
        ...

    def most_children_kept(self) -> int:
        """How many of a run's children are kept, the first to begin (decision 0369)."""
        ...

    def most_history_events(self) -> int:
        """The events a STANDARD child's history may hold; one that would hold more fails
        ``States.Runtime``, as an execution does (decision 0383)."""
        ...

    async def record_child(self, child: MapChild) -> bool:
        """A child execution kept as it begins and as it ends (decision 0369); False when it
        was not written: it was stopped (ABORTED) meanwhile (decision 0372)."""
        ...

    async def child_stopped(self, child: MapChild) -> bool:
        """Whether a kept child was stopped (ABORTED by StopExecution) since it began: asked
        before each of its states, so that it runs no further one (decision 0374)."""
        ...

    def stops(self) -> StopSignals | None:
        """This process's stop signals, rung by a child's StopExecution once its ABORTED is
        written (decision 0407): the child's work watches its ARN there."""
        ...

    async def redrive_run(self, tenant_id: str, arn: str, now: int) -> Redrive | None:
        """The run RUNNING again as its parent is redriven, its kept children sorted
        (decision 0377); None: unknown or succeeded — a new run then. ``States.Runtime``
        once it was redriven 1,000 times, as AWS fails it."""
        ...

    async def runs_of(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        """The execution's Map runs, oldest first."""
        ...

    async def redrive_child(self, child: MapChild, now: int) -> MapChild | None:
        """A kept child that did not succeed RUNNING again (its redrive count one more);
        None: it is not redrivable (changed meanwhile)."""
        ...


@runtime_checkable
class HostsMapRuns(Protocol):
    """A task runner that serves distributed Maps."""

    def map_runs(self) -> MapRunHost | None: ...


def _now() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _host(machine: Interpreter) -> MapRunHost:
    tasks = machine.tasks()
    host = tasks.map_runs() if isinstance(tasks, HostsMapRuns) else None
    if host is None:
        raise StatesError("States.Runtime", "Distributed Map states are not served here")
    return host


async def _items(
    host: MapRunHost, state: dict[str, Any], data: Any, context: dict[str, Any]
) -> tuple[list[Any], list[str] | None, list[str | None] | None]:
    """The items, each one's ``Source`` when an ``ItemReader`` read them from S3, and each
    one's key when it is a JSON object's entry (decision 0365)."""
    reader = state.get("ItemReader")
    if reader is None:
        listed, entry_keys = map_entries.selected_items(state, data, data, context)
        return listed, None, None if entry_keys is None else list(entry_keys)
    params = map_fields.reader_arguments(state, data, data, context)
    config = reader.get("ReaderConfig", {})
    bucket, key = str(params.get("Bucket", "")), str(params.get("Key", ""))
    most = map_fields.most_items(state, config, data, data, context)
    limit = min(most or host.most_items() + 1, host.most_items() + 1)  # the excess seen
    # VersionId and ExpectedBucketOwner (decision 0358) go with each read they concern.
    named = NamedReads(host, bucket, key if "Key" in params else None, named_by(params))
    items: list[Any]
    keys: list[str | None] | None = None
    if reader["Resource"] == LIST_OBJECTS:
        items = await host.list_objects(context, bucket, str(params.get("Prefix", "")),
                                        named.listing(bucket))  # fmt: skip
        sources = [source_of(bucket, str(item.get("Key", ""))) for item in items]
        if config.get("Transformation") == LOAD_AND_FLATTEN:
            read = await flattened_items(named, context, bucket, items, config, limit,
                                         host.most_record_bytes())  # fmt: skip
            items, sources, keys = read.items, read.sources, read.keyed
    elif reader["Resource"] == GET_OBJECT and is_streamed(config, key):
        read = await streamed_items(named, context, bucket, key, config, limit,
                                    host.most_record_bytes())  # fmt: skip
        items, sources, keys = read.items, read.sources, read.keyed
    elif reader["Resource"] == GET_OBJECT:
        text = await named.read_object(context, bucket, key)
        items, places, entry_keys = positioned_items(text, config)
        sources = [source_of(bucket, key, place) for place in places]
        keys = None if entry_keys is None else list(entry_keys)
    else:
        raise StatesError("States.Runtime", "The ItemReader's resource is not served")
    if most:
        items, sources = items[:most], sources[:most]
        keys = None if keys is None else keys[:most]
    if len(items) > host.most_items():
        raise StatesError(READER_FAILED, f"More than {host.most_items()} items: a Map run "
                          "reads fewer")  # fmt: skip
    return items, sources, keys


def _inputs(
    state: dict[str, Any], data: Any, context: dict[str, Any], items: list[Any],
    sources: list[str] | None, keys: list[str | None] | None,
) -> list[tuple[Any, int]]:  # fmt: skip
    """Each child's input and how many items it holds; the ``ItemSelector`` sees each item's
    ``Source`` (decision 0352) and an entry's ``Key`` (decision 0365) beside its ``Index``
    and ``Value``."""
    selector = state.get("ItemSelector", state.get("Parameters"))
    selected = [
        item if selector is None else state_data.selected_item(
            state, selector, data, data, map_entries.item_context(context, i, item, keys,
                                                                  sources))
        for i, item in enumerate(items)
    ]  # fmt: skip
    if "ItemBatcher" not in state:
        return [(value, 1) for value in selected]
    most_items, most_bytes, batch_input = map_fields.batching(state, data, data, context)
    grouped = batches(selected, most_items, most_bytes, batch_input)
    return [(batch, len(batch["Items"])) for batch in grouped]


async def run_map(
    machine: Interpreter, name: str, state: dict[str, Any], data: Any,
    context: dict[str, Any], events: list[Event], done: dict[str, Any] | None = None,
) -> Any:  # fmt: skip
    """The state's result; ``done``: a redrive's, naming the run to redrive (0377)."""
    host = _host(machine)
    clock = machine.clock
    execution = context["Execution"]
    processor = state["ItemProcessor"]
    express = processor["ProcessorConfig"].get("ExecutionType") == "EXPRESS"
    asked = map_fields.concurrency(state, data, data, context)
    run = MapRun(
        tenant_id=str(execution["Id"]).split(":")[4],
        arn=map_run_arn(str(execution["Id"]), state.get("Label")),
        execution_arn=str(execution["Id"]),
        started=clock(),
        max_concurrency=int(asked),
        tolerated_failure_percentage=0.0,
        tolerated_failure_count=0,
    )
    tolerate_share = map_fields.tolerance(state, "ToleratedFailurePercentage", data, data,
                                          context)  # fmt: skip
    tolerate_count = map_fields.tolerance(state, "ToleratedFailureCount", data, data, context)
    run = run.changed(
        tolerated_failure_percentage=float(tolerate_share or 0.0),
        tolerated_failure_count=int(tolerate_count or 0),
    )
    redriving = run_to_redrive(done) or stopped_run(
        await host.runs_of(run.tenant_id, run.execution_arn) if machine.redriven else [],
        state.get("Label"), machine.redriven)  # fmt: skip
    redrive = None if redriving is None else await host.redrive_run(run.tenant_id, redriving,
                                                                     clock())  # fmt: skip
    # A redrive's children run with the inputs they had (decision 0383): only the places
    # none of them began are read from the source again.
    inputs: list[tuple[Any, int]] = []
    if redrive is None or redrive.unbegun():
        items, sources, keys = await _items(host, state, data, context)
        inputs = _inputs(state, data, context, items, sources, keys)
    if redrive is not None:
        inputs = _redriven_inputs(redrive, inputs)
    total_items, total_runs = sum(held for _, held in inputs), len(inputs)
    events.append(Event("MapStateStarted", "mapStateStartedEventDetails",
                        {"length": total_items}))  # fmt: skip
    if redrive is not None:  # its settings as stored (UpdateMapRun's), its ARN the same
        run = redrive.run
        events.append(Event("MapRunRedriven", "mapRunRedrivenEventDetails",
                            {"mapRunArn": run.arn, "redriveCount": run.redrive_count}))  # fmt: skip
    else:
        events.append(Event("MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": run.arn}))
    counted = ("succeeded", "failed", "aborted", "timedOut", "running", "pendingRedrive",
               "failuresNotRedrivable")  # fmt: skip
    counts = {"items": dict.fromkeys(counted, 0), "runs": dict.fromkeys(counted, 0)}
    children: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    outputs: list[Any] = [None] * total_runs
    records: list[dict[str, Any] | None] = [None] * total_runs  # each child's, in item order
    succeeded_outputs: list[Any] = []  # beside ``children["SUCCEEDED"]``, for WriterConfig
    # A redrive's children that succeeded are not run again, nor those it cannot redrive:
    # their outputs (or failures) and records kept, counted as they ended.
    skipped = {} if redrive is None else {**redrive.succeeded, **redrive.not_redrivable}
    again = {} if redrive is None else redrive.again  # under their ARN; EXPRESS ones anew
    waiting = {} if redrive is None else {**redrive.again, **redrive.anew}
    for index, prior in skipped.items():
        outcome = _OUTCOMES[prior.status]
        outputs[index] = json.loads(prior.output or "null") if outcome == "succeeded" else {
            "Error": prior.error or _ABORTED_ERROR, "Cause": prior.cause}  # fmt: skip
        records[index] = kept = kept_record(prior)
        children["SUCCEEDED" if outcome == "succeeded" else "FAILED"].append(kept)
        if outcome == "succeeded":
            succeeded_outputs.append(outputs[index])
        for kind, held in (("runs", 1), ("items", prior.item_count)):
            counts[kind][outcome] += held
            if outcome != "succeeded":  # AWS: failed, and not to be redriven
                counts[kind]["failuresNotRedrivable"] += held
    if redrive is not None:  # AWS's pendingRedrive: those waiting to be redriven
        counts["runs"]["pendingRedrive"] = len(waiting)
        counts["items"]["pendingRedrive"] = sum(c.item_count for c in waiting.values())
    run = await host.record(_counted(run, counts, total_items, total_runs))
    stopped = asyncio.Event()
    # Failures it cannot redrive still count: past the threshold, the run fails again.
    if exceeds_tolerance(counts["items"]["failed"], total_items, _share(run, tolerate_share),
                         _count(run, tolerate_count)):  # fmt: skip
        stopped.set()
    changed = asyncio.Condition()
    last_record = clock()
    machine_arn = child_machine_arn(run.arn)
    most_kept = host.most_children_kept()
    most_events = host.most_history_events()
    # Children begun so far: the first ``most_kept`` are kept (decision 0369); a redriven
    # run's kept ones count.
    begun = 0 if redrive is None else len(redrive.begun())

    working: dict[int, asyncio.Future[Any]] = {}  # the children's work now running

    def limit() -> int:
        chosen = run.max_concurrency or total_runs or 1
        return max(1, min(chosen, host.most_children()))

    async def child(index: int, value: Any, held: int) -> None:
        nonlocal run, last_record, begun
        async with changed:
            await changed.wait_for(lambda: stopped.is_set() or counts["runs"]["running"] < limit())
            if stopped.is_set():
                children["PENDING"].append({"Input": _dumps(value), "Status": "PENDING"})
                return
            counts["runs"]["running"] += 1
            counts["items"]["running"] += held
            if index in waiting:
                counts["runs"]["pendingRedrive"] -= 1
                counts["items"]["pendingRedrive"] -= held
            prior = again.get(index)
            keep = prior is not None or begun < most_kept  # beyond: run and counted, not kept
            begun += prior is None
        # A kept STANDARD child that did not succeed runs again under its ARN (0377).
        redone = None if prior is None else await host.redrive_child(prior, clock())
        keep = keep and (redone is not None or prior is None)
        arn = child_execution_arn(run.arn, express) if redone is None else redone.arn
        began = clock() if redone is None else redone.started
        if redone is not None:  # redriven with the input it had, as AWS redrives an execution
            value = json.loads(redone.input)
        child_context = {
            "Execution": {"Id": arn, "Name": arn.rsplit(":", 1)[-1], "StartTime": _iso(began),
                          "Input": value, "RoleArn": execution.get("RoleArn", "")},
            "StateMachine": {"Id": machine_arn, "Name": machine_arn.rsplit(":", 1)[1]},
        }  # fmt: skip
        record: dict[str, Any] = {
            "ExecutionArn": arn, "Input": _dumps(value), "InputDetails": {"Included": True},
            "Name": arn.rsplit(":", 1)[-1], "StartDate": _iso(began),
            "RedriveCount": 0 if redone is None else redone.redrive_count,
            "StateMachineArn": machine_arn,
        }  # fmt: skip
        kept = MapChild(tenant_id=run.tenant_id, run_arn=run.arn, arn=arn, started=began,
                        input=record["Input"], item_count=held, index=index,
                        role_arn=str(execution.get("RoleArn", "")))  # fmt: skip
        if redone is not None:  # already RUNNING again: its redrive wrote it
            kept = kept.changed(redrive_count=redone.redrive_count,
                                redrive_date=redone.redrive_date)  # fmt: skip
            record["RedriveDate"] = _iso(redone.redrive_date or began)
        elif keep:
            await host.record_child(kept)
        child_events: list[Event] = []
        # Only a kept STANDARD child can be stopped (StopExecution of an EXPRESS one is
        # InvalidArn, an unkept one is unknown): only it asks, one status read a state.
        halted = _asking(host, kept) if keep and not express else None
        signals = host.stops() if halted is not None else None
        # A STANDARD child's history is cut as it runs, as an execution's (decision 0393):
        # what it had before its states (started, a redrive's) and its end leave this room.
        before = 1 if redone is None else len(redriven_history(redone.history, kept, ()))
        room = None if express else most_events - before - 1
        overflowed = False
        cut = False  # stopped as the run failed (decision 0416)
        try:
            with contextlib.ExitStack() as watched:
                rung = None if signals is None else watched.enter_context(
                    signals.watching(arn)).rung  # fmt: skip
                work = asyncio.ensure_future(_child_output(
                    machine, processor, child_context, value, child_events, halted, room,
                    rung))  # fmt: skip
                working[index] = work
                if stopped.is_set():  # the run failed as this child began
                    work.cancel()
                try:
                    output = await work
                finally:
                    del working[index]
            outcome = "succeeded"
            outputs[index] = output
            record.update(Output=_dumps(output), OutputDetails={"Included": True},
                          Status="SUCCEEDED")  # fmt: skip
            kept = kept.changed(status="SUCCEEDED", output=record["Output"])
        except StatesError as err:
            outcome = "failed"
            outputs[index] = {"Error": err.error, "Cause": err.cause}
            record.update(Error=err.error, Cause=err.cause, Status="FAILED")
            kept = kept.changed(status="FAILED", error=err.error, cause=err.cause)
        except ChildStopped:
            outcome = "aborted"  # its record is StopExecution's: ABORTED, its history ended
        except HistoryFull:
            outcome, overflowed = "failed", True
        except asyncio.CancelledError:
            if _cancelling():  # its execution stopped or timed out: the run ends with it
                raise
            outcome, cut = "aborted", True  # its events, its states' aborted ones, kept
        ended = clock()
        record["StopDate"] = _iso(ended)
        kept = kept.changed(stopped=ended, **({"status": ABORTED} if cut else {}))
        # AWS keeps no history of an EXPRESS child (GetExecutionHistory refuses it). One
        # StopExecution aborted meanwhile is counted ABORTED, as AWS counts a child "stopped
        # by the user" (decision 0372): stopped at its next state (decision 0374), or ended
        # between its last state and its record, its outcome is not its own.
        history = () if express else child_history(kept, child_events)
        if redone is not None:
            history = redriven_history(redone.history, kept, history)
        full = overflowed or (not express and outcome != "aborted" and len(history) > most_events)
        if full:  # AWS fails it, counts it failed, and does not redrive it (decision 0383)
            cause = f"The execution's history reached its limit of {most_events} events."
            outcome, outputs[index] = "failed", {"Error": "States.Runtime", "Cause": cause}
            kept = kept.changed(status="FAILED", output=None, error="States.Runtime",
                                cause=cause)  # fmt: skip
            history = capped_history(history, kept, most_events)
            record.update(Error="States.Runtime", Cause=cause, Status="FAILED")
            for gone in ("Output", "OutputDetails"):
                record.pop(gone, None)
        if (outcome == "aborted" and not cut) or (keep and not await host.record_child(
                kept.changed(history=history))):  # fmt: skip
            outcome = "aborted"
        if outcome == "aborted":
            outputs[index] = {"Error": _ABORTED_ERROR, "Cause": "The child was stopped"}
            record.update(Status="ABORTED")
            for gone in ("Output", "OutputDetails"):
                record.pop(gone, None)
        children["SUCCEEDED" if outcome == "succeeded" else "FAILED"].append(record)
        records[index] = record
        if outcome == "succeeded":
            succeeded_outputs.append(output)
        async with changed:
            counts["runs"]["running"] -= 1
            counts["items"]["running"] -= held
            counts["runs"][outcome] += 1
            counts["items"][outcome] += held
            if full:
                counts["runs"]["failuresNotRedrivable"] += 1
                counts["items"]["failuresNotRedrivable"] += held
            share, most = _share(run, tolerate_share), _count(run, tolerate_count)
            if exceeds_tolerance(counts["items"]["failed"], total_items, share, most):
                stopped.set()
                for running in working.values():  # AWS stops them as the run fails (0416)
                    running.cancel()
            if clock() - last_record >= _RECORD_EVERY_MS:
                last_record = clock()
                run = await host.record(_counted(run, counts, total_items, total_runs))
            changed.notify_all()

    try:
        await asyncio.gather(*(child(i, value, held) for i, (value, held) in enumerate(inputs)
                               if i not in skipped))  # fmt: skip
    except asyncio.CancelledError:  # its execution stopped or timed out (decision 0407)
        events.append(Event("MapRunAborted"))
        raise
    failed = stopped.is_set()
    result: Any = outputs
    writer = state.get("ResultWriter")
    error: StatesError | None = None
    if failed:
        error = StatesError(THRESHOLD, "The specified tolerated failure threshold was exceeded")
    transformation, output_type = writer_config(writer or {})
    if writer is not None and "Resource" not in writer:  # WriterConfig alone: no S3
        ended = [(r, outputs[i]) for i, r in enumerate(records) if r is not None]
        result = shaped([r for r, _ in ended], [o for _, o in ended], transformation)
    elif writer is not None:
        params = map_fields.writer_arguments(state, data, data, context)
        bucket, prefix = str(params.get("Bucket", "")), str(params.get("Prefix", ""))
        files, manifest_key, manifest = result_files(
            prefix, run.arn.rsplit(":", 1)[-1], bucket, run.arn, children, _RESULTS_PER_FILE,
            transformation, output_type, {"SUCCEEDED": succeeded_outputs},
        )  # fmt: skip
        try:
            for key, body in [*files, (manifest_key, manifest)]:
                await host.write_object(context, bucket, key, body)
        except StatesError as err:
            error = error or StatesError("States.ResultWriterFailed", err.cause)
        else:
            counts["items"]["resultsWritten"] = total_items
            counts["runs"]["resultsWritten"] = total_runs
            result = {"MapRunArn": run.arn,
                      "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}  # fmt: skip
    status = "FAILED" if error is not None else "SUCCEEDED"
    await host.record(_counted(run, counts, total_items, total_runs).changed(
        status=status, stopped=clock()))  # fmt: skip
    if error is not None:
        events.append(Event("MapRunFailed", "mapRunFailedEventDetails",
                            {"error": error.error, "cause": error.cause}))  # fmt: skip
        events.append(Event("MapStateFailed"))
        error.done = {RUN_KEY: run.arn}  # a redrive of the parent redrives this run
        raise error
    events.append(Event("MapRunSucceeded"))
    events.append(Event("MapStateSucceeded"))
    return result


def _redriven_inputs(redrive: Redrive, read: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """A redriven run's inputs by place (decision 0383): each child's own, as it ran; the
    places none began from ``read`` (the source read again). A source that now has fewer
    items than those places cannot give them: ``States.ItemReaderFailed``."""
    begun = redrive.begun()
    missing = redrive.unbegun()
    if missing and missing[-1] >= len(read):
        raise StatesError(READER_FAILED, f"The Map Run {redrive.run.arn} had {redrive.total} "
                          f"children; its items now give {len(read)}: the ones that did not "
                          "begin cannot be read again")  # fmt: skip
    return [
        (json.loads(begun[i].input), begun[i].item_count) if i in begun else read[i]
        for i in range(redrive.total)
    ]


async def _child_output(
    machine: Interpreter, processor: dict[str, Any], context: dict[str, Any], value: Any,
    events: list[Event], halted: Halted | None, room: int | None,
    rung: asyncio.Event | None = None,
) -> Any:  # fmt: skip
    """A child's output, its states' history events into ``events``; a value of the wrong
    kind where its states read one fails the child (``States.Runtime``, as a top-level
    step's), not the whole run. ``ChildStopped`` once ``halted`` says it was stopped."""
    try:
        child = machine.child(processor, context, halted, room, rung)
        return await child.run_states(value, events)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise StatesError("States.Runtime", f"{type(exc).__name__}: {str(exc)[:256]}") from None


def _cancelling() -> bool:
    """Whether this task itself was cancelled (not only the work it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _asking(host: MapRunHost, child: MapChild) -> Halted:
    async def halted() -> bool:
        return await host.child_stopped(child)

    return halted


def _share(run: MapRun, given: Any) -> float | None:
    """The percentage tolerated: the run's (UpdateMapRun may change it) once one was given."""
    if given is None and run.tolerated_failure_percentage == 0.0:
        return None
    return run.tolerated_failure_percentage


def _count(run: MapRun, given: Any) -> int | None:
    if given is None and run.tolerated_failure_count == 0:
        return None
    return run.tolerated_failure_count


def _counted(
    run: MapRun, counts: dict[str, dict[str, int]], total_items: int, total_runs: int
) -> MapRun:
    def of(kind: str, total: int) -> dict[str, int]:
        seen = counts[kind]
        ended = seen["succeeded"] + seen["failed"] + seen["aborted"] + seen["timedOut"]
        return {**seen, "total": total, "pending": max(0, total - ended - seen["running"])}

    return run.changed(item_counts=of("items", total_items),
                       execution_counts=of("runs", total_runs))  # fmt: skip
