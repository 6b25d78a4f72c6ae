"""The distributed Map's fields checked as AWS's ValidateStateMachineDefinition checks them
(decision 0322): ``ProcessorConfig`` (``Mode``, ``ExecutionType``), ``ItemReader`` (S3's
``getObject`` with its ``ReaderConfig``, or ``listObjectsV2``), ``ItemBatcher``,
``ResultWriter`` (S3's ``putObject``), ``ToleratedFailurePercentage`` /
``ToleratedFailureCount`` and ``Label``. Each problem is a message and its location, which
``definition`` makes a ``SCHEMA_VALIDATION_FAILED`` diagnostic; the fields of a distributed
Map on an INLINE one are refused as AWS refuses them. ``ReaderConfig``'s ``ItemsPointer`` (a
JSON pointer, ``JSON`` inputs only) and ``Transformation`` (``NONE``, ``LOAD_AND_FLATTEN``
with ``listObjectsV2`` or a manifest, ``InputType`` then the listed objects' type) are
decision 0352's.

In a JSONata state (decision 0338) the S3 calls take ``Arguments`` (JSONPath's ``Parameters``
refused), ``MaxItems``, ``MaxItemsPerBatch``, ``MaxInputBytesPerBatch``, ``BatchInput``,
``ToleratedFailurePercentage`` and ``ToleratedFailureCount`` may be ``{% … %}`` expressions
(checked when they run) and the ``…Path`` fields are refused; ``definition_jsonata`` parses the
expressions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeGuard

from andromede.stepfunctions.jsonata_query import expression_of

__all__ = [
    "CSV_DELIMITERS",
    "GET_OBJECT",
    "LIST_OBJECTS",
    "PUT_OBJECT",
    "distributed_map_problems",
    "is_distributed",
]

GET_OBJECT: Final = "arn:aws:states:::s3:getObject"
LIST_OBJECTS: Final = "arn:aws:states:::s3:listObjectsV2"
PUT_OBJECT: Final = "arn:aws:states:::s3:putObject"
_DISTRIBUTED_ONLY: Final = (
    "ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
    "ToleratedFailureCount", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath",
    "Label",
)  # fmt: skip
_READER_FIELDS: Final = frozenset({"Resource", "Parameters", "Arguments", "ReaderConfig"})
_READER_CONFIG: Final = frozenset(
    {"InputType", "ManifestType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems",
     "MaxItemsPath", "ItemsPointer", "Transformation"}
)  # fmt: skip
_TRANSFORMATIONS: Final = ("NONE", "LOAD_AND_FLATTEN")
_FLATTENED_INPUT_TYPES: Final = ("CSV", "JSON", "JSONL", "PARQUET")
_POINTER: Final = re.compile(r"(/([^~/]|~[01])*)*")  # RFC 6901
_INPUT_TYPES: Final = ("CSV", "JSON", "JSONL", "PARQUET", "MANIFEST")
CSV_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_MANIFEST_TYPES: Final = ("ATHENA_DATA", "S3_INVENTORY")
_ATHENA_INPUT_TYPES: Final = ("CSV", "JSONL", "PARQUET")
_WRITER_FIELDS: Final = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
_WRITER_CONFIG: Final = {"Transformation": ("NONE", "COMPACT", "FLATTEN"),
                         "OutputType": ("JSON", "JSONL")}  # fmt: skip
_BATCHER_FIELDS: Final = frozenset(
    {"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput", "MaxItemsPerBatchPath",
     "MaxInputBytesPerBatchPath"}
)  # fmt: skip
_MAX_BATCH_BYTES: Final = 262_144  # AWS: a batch's input is at most 256 KiB
_MAX_ITEMS: Final = 100_000_000
_LABEL: Final = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,40}")

Problems = list[tuple[str, str]]


def is_distributed(state: Mapping[str, Any]) -> bool:
    """Whether a Map state's items run as a Map run's child executions."""
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    return isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"


def distributed_map_problems(
    state: Mapping[str, Any], processor: Mapping[str, Any], where: str, name: str,
    distributed: bool, jsonata: bool = False,
) -> Problems:  # fmt: skip
    found: Problems = []
    config = processor.get("ProcessorConfig", {})
    at = f"{where}/{name}/ProcessorConfig"
    if not isinstance(config, dict):
        return [("The field 'ProcessorConfig' must be an object", at)]
    for field in config:
        if field not in ("Mode", "ExecutionType"):
            found.append((f"Field '{field}' is not supported", at))
    if not distributed:
        if "ExecutionType" in config:
            found.append(("The field 'ExecutionType' is only supported in DISTRIBUTED mode", at))
        found += [
            (f"The field '{field}' is only supported in DISTRIBUTED mode", f"{where}/{field}")
            for field in _DISTRIBUTED_ONLY
            if field in state
        ]
        return found
    if name != "ItemProcessor":
        found.append(("A distributed Map's states are given in 'ItemProcessor'", where))
    if config.get("ExecutionType") not in ("STANDARD", "EXPRESS"):
        found.append(("The field 'ExecutionType' should have one of these values: "
                      "[STANDARD, EXPRESS]", at))  # fmt: skip
    if "ItemReader" in state:
        found += _reader(state["ItemReader"], f"{where}/ItemReader", jsonata)
    if "ItemBatcher" in state:
        found += _batcher(state["ItemBatcher"], f"{where}/ItemBatcher", jsonata)
    if "ResultWriter" in state:
        found += _writer(state["ResultWriter"], f"{where}/ResultWriter", jsonata)
    found += _tolerance(state, where, jsonata)
    label = state.get("Label")
    if "Label" in state and not (isinstance(label, str) and _LABEL.fullmatch(label)):
        found.append(("The field 'Label' must be at most 40 characters, with no whitespace "
                      "nor special characters", f"{where}/Label"))  # fmt: skip
    return found


def _computed(value: Any, jsonata: bool) -> bool:
    """Whether a JSONata state gives the value as an expression (its kind known as it runs)."""
    return jsonata and expression_of(value) is not None


def _other_language(field: str, at: str, jsonata: bool) -> tuple[str, str]:
    own, other = ("JSONata", "JSONPath") if jsonata else ("JSONPath", "JSONata")
    return (f"The QueryLanguage is set to '{own}', but field '{field}' is only supported for "
            f"the '{other}' QueryLanguage", at)  # fmt: skip


def _tolerance(state: Mapping[str, Any], where: str, jsonata: bool) -> Problems:
    found: Problems = []
    percentage = state.get("ToleratedFailurePercentage")
    if (
        "ToleratedFailurePercentage" in state
        and not _computed(percentage, jsonata)
        and not (_number(percentage) and 0 <= percentage <= 100)
    ):
        found.append(("The field 'ToleratedFailurePercentage' must be a number between 0 and "
                      "100", f"{where}/ToleratedFailurePercentage"))  # fmt: skip
    count = state.get("ToleratedFailureCount")
    if (
        "ToleratedFailureCount" in state
        and not _computed(count, jsonata)
        and not (_integer(count) and count >= 0)
    ):
        found.append(("The field 'ToleratedFailureCount' must be a non-negative integer",
                      f"{where}/ToleratedFailureCount"))  # fmt: skip
    if jsonata:  # the ``…Path`` fields are JSONPath's: ``definition_jsonata`` refuses them
        return found
    for field in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
        if field in state and f"{field}Path" in state:
            found.append((f"Only one of these fields may be given: [{field}, {field}Path]",
                          where))  # fmt: skip
        path = state.get(f"{field}Path")
        if f"{field}Path" in state and not (
            isinstance(path, str) and (path == "$" or path.startswith(("$.", "$[", "$$")))
        ):
            found.append((f"The value for the field '{field}Path' must be a valid JSONPath",
                          f"{where}/{field}Path"))  # fmt: skip
    return found


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _bucket_parameters(holder: Mapping[str, Any], at: str, keys: tuple[str, ...],
                       jsonata: bool) -> Problems:  # fmt: skip
    """An S3 call's ``Parameters`` (JSONata: ``Arguments``) holding ``keys``."""
    field, other = ("Arguments", "Parameters") if jsonata else ("Parameters", "Arguments")
    if other in holder:
        return [_other_language(other, f"{at}/{other}", jsonata)]
    params = holder.get(field)
    if _computed(params, jsonata):
        return []
    if not isinstance(params, dict):
        return [(f"These fields are required: [{field}]", at)]
    missing = [k for k in keys if k not in params and (jsonata or f"{k}.$" not in params)]
    if missing:
        return [(f"These fields are required: [{', '.join(missing)}]", f"{at}/{field}")]
    return []


def _reader(reader: Any, at: str, jsonata: bool) -> Problems:
    if not isinstance(reader, dict):
        return [("The field 'ItemReader' must be an object", at)]
    found: Problems = [(f"Field '{f}' is not supported", at) for f in reader
                       if f not in _READER_FIELDS]  # fmt: skip
    resource = reader.get("Resource")
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, dict):
        return [*found, ("The field 'ReaderConfig' must be an object", f"{at}/ReaderConfig")]
    found += [(f"Field '{f}' is not supported", f"{at}/ReaderConfig") for f in config
              if f not in _READER_CONFIG]  # fmt: skip
    flattened = config.get("Transformation") == "LOAD_AND_FLATTEN"
    if "Transformation" in config and config["Transformation"] not in _TRANSFORMATIONS:
        found.append(("The field 'Transformation' should have one of these values: "
                      f"[{', '.join(_TRANSFORMATIONS)}]", f"{at}/ReaderConfig"))  # fmt: skip
    if resource == LIST_OBJECTS:
        found += _bucket_parameters(reader, at, ("Bucket",), jsonata)
        refused = ("ManifestType",) if flattened else ("InputType", "ManifestType")
        found += [(f"The field '{f}' is not supported with s3:listObjectsV2" + (
                   "" if f == "ManifestType" else " unless 'Transformation' is LOAD_AND_FLATTEN"),
                   f"{at}/ReaderConfig") for f in refused if f in config]  # fmt: skip
        if flattened:
            found += _flattened(config, f"{at}/ReaderConfig")
    elif resource == GET_OBJECT:
        found += _bucket_parameters(reader, at, ("Bucket", "Key"), jsonata)
        if flattened and "ManifestType" not in config:
            found.append(("The field 'Transformation' LOAD_AND_FLATTEN is only supported with "
                          "s3:listObjectsV2 or a 'ManifestType'",
                          f"{at}/ReaderConfig"))  # fmt: skip
        elif flattened:
            found += _flattened(config, f"{at}/ReaderConfig")
        else:
            found += _input_type(config, f"{at}/ReaderConfig")
    else:
        found.append((f"The resource of an ItemReader must be one of: [{GET_OBJECT}, "
                      f"{LIST_OBJECTS}]", f"{at}/Resource"))  # fmt: skip
    most = config.get("MaxItems")
    if jsonata and "MaxItemsPath" in config:
        found.append(_other_language("MaxItemsPath", f"{at}/ReaderConfig", jsonata))
    if (
        "MaxItems" in config
        and not _computed(most, jsonata)
        and not (_integer(most) and 0 <= most <= _MAX_ITEMS)
    ):
        found.append((f"The field 'MaxItems' must be an integer between 0 and {_MAX_ITEMS}",
                       f"{at}/ReaderConfig/MaxItems"))  # fmt: skip
    return found


def _flattened(config: Mapping[str, Any], at: str) -> Problems:
    """``LOAD_AND_FLATTEN``: the listed objects' type is ``InputType`` (AWS: "you must also
    set InputType"), an Athena manifest's data files as 0345 reads them."""
    kind, manifest = config.get("InputType"), config.get("ManifestType")
    if manifest is not None and manifest != "S3_INVENTORY":
        return _input_type(config, at)
    if "InputType" not in config:
        return [("The field 'InputType' is required when 'Transformation' is LOAD_AND_FLATTEN",
                 at)]  # fmt: skip
    if kind not in _FLATTENED_INPUT_TYPES:
        return [("The field 'InputType' should have one of these values with 'Transformation' "
                 f"LOAD_AND_FLATTEN: [{', '.join(_FLATTENED_INPUT_TYPES)}]", at)]  # fmt: skip
    return _csv(config, kind, at) + _items_pointer(config, kind, at)


def _items_pointer(config: Mapping[str, Any], kind: Any, at: str) -> Problems:
    if "ItemsPointer" not in config:
        return []
    pointer = config["ItemsPointer"]
    if kind != "JSON":
        return [("Field 'ItemsPointer' is only supported with the JSON InputType", at)]
    if not isinstance(pointer, str) or not _POINTER.fullmatch(pointer):
        return [("The field 'ItemsPointer' must be a JSON pointer (such as '/data/items')",
                 f"{at}/ItemsPointer")]  # fmt: skip
    return []


def _input_type(config: Mapping[str, Any], at: str) -> Problems:
    """``InputType`` and ``ManifestType`` as AWS pairs them: an S3 inventory's manifest
    (``ManifestType`` ``S3_INVENTORY``, or the older ``InputType`` ``MANIFEST``) is CSV and
    takes no ``InputType``; an Athena manifest names its data files' type."""
    kind, manifest = config.get("InputType"), config.get("ManifestType")
    if "ManifestType" in config and manifest not in _MANIFEST_TYPES:
        return [("The field 'ManifestType' should have one of these values: "
                 f"[{', '.join(_MANIFEST_TYPES)}]", at)]  # fmt: skip
    if manifest == "S3_INVENTORY":
        if "InputType" in config:
            return [("The field 'InputType' must not be given when 'ManifestType' is "
                     "S3_INVENTORY: the inventory's type is CSV", at)]  # fmt: skip
        return _csv(config, "MANIFEST", at)
    if manifest == "ATHENA_DATA" and kind not in _ATHENA_INPUT_TYPES:
        return [("The field 'InputType' should have one of these values with 'ManifestType' "
                 f"ATHENA_DATA: [{', '.join(_ATHENA_INPUT_TYPES)}]", at)]  # fmt: skip
    if kind not in _INPUT_TYPES:
        return [("The field 'InputType' should have one of these values: "
                 f"[{', '.join(_INPUT_TYPES)}]", at)]  # fmt: skip
    return _csv(config, kind, at) + _items_pointer(config, kind, at)


def _csv(config: Mapping[str, Any], kind: Any, at: str) -> Problems:
    location = config.get("CSVHeaderLocation")
    headers = config.get("CSVHeaders")
    if kind not in ("CSV", "MANIFEST"):
        return [(f"Field '{f}' is only supported with the CSV and MANIFEST InputTypes", at)
                for f in ("CSVHeaderLocation", "CSVHeaders", "CSVDelimiter")
                if f in config]  # fmt: skip
    if "CSVDelimiter" in config and config["CSVDelimiter"] not in CSV_DELIMITERS:
        return [("The field 'CSVDelimiter' should have one of these values: "
                 f"[{', '.join(CSV_DELIMITERS)}]", at)]  # fmt: skip
    if kind == "MANIFEST" and "CSVHeaderLocation" not in config:
        # An inventory's columns are named by its manifest's ``fileSchema``.
        return [("The field 'CSVHeaders' is only supported when 'CSVHeaderLocation' is GIVEN",
                 at)] if "CSVHeaders" in config else []  # fmt: skip
    if location not in ("FIRST_ROW", "GIVEN"):
        return [("The field 'CSVHeaderLocation' should have one of these values: "
                 "[FIRST_ROW, GIVEN]", at)]  # fmt: skip
    given = isinstance(headers, list) and bool(headers) and all(isinstance(h, str) for h in headers)
    if location == "GIVEN" and not given:
        return [("The field 'CSVHeaders' is required when 'CSVHeaderLocation' is GIVEN", at)]
    if location == "FIRST_ROW" and "CSVHeaders" in config:
        return [("The field 'CSVHeaders' is only supported when 'CSVHeaderLocation' is GIVEN",
                 at)]  # fmt: skip
    return []


def _batcher(batcher: Any, at: str, jsonata: bool) -> Problems:
    if not isinstance(batcher, dict):
        return [("The field 'ItemBatcher' must be an object", at)]
    found: Problems = [(f"Field '{f}' is not supported", at) for f in batcher
                       if f not in _BATCHER_FIELDS]  # fmt: skip
    if not {"MaxItemsPerBatch", "MaxInputBytesPerBatch", "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatchPath"} & batcher.keys():  # fmt: skip
        found.append(("At least one of these fields is required: [MaxItemsPerBatch, "
                      "MaxInputBytesPerBatch]", at))  # fmt: skip
    if jsonata:
        found += [_other_language(f, at, jsonata) for f in batcher if f.endswith("Path")]
    most = batcher.get("MaxItemsPerBatch")
    if (
        "MaxItemsPerBatch" in batcher
        and not _computed(most, jsonata)
        and not (_integer(most) and most > 0)
    ):
        found.append(("The field 'MaxItemsPerBatch' must be a positive integer",
                      f"{at}/MaxItemsPerBatch"))  # fmt: skip
    size = batcher.get("MaxInputBytesPerBatch")
    if (
        "MaxInputBytesPerBatch" in batcher
        and not _computed(size, jsonata)
        and not (_integer(size) and 0 < size <= _MAX_BATCH_BYTES)
    ):
        found.append((f"The field 'MaxInputBytesPerBatch' must be an integer between 1 and "
                      f"{_MAX_BATCH_BYTES}", f"{at}/MaxInputBytesPerBatch"))  # fmt: skip
    given = batcher.get("BatchInput")
    if "BatchInput" in batcher and not isinstance(given, dict) and not _computed(given, jsonata):
        found.append(("The field 'BatchInput' must be an object", f"{at}/BatchInput"))
    return found


def _writer(writer: Any, at: str, jsonata: bool) -> Problems:
    if not isinstance(writer, dict):
        return [("The field 'ResultWriter' must be an object", at)]
    found: Problems = [(f"Field '{f}' is not supported", at) for f in writer
                       if f not in _WRITER_FIELDS]  # fmt: skip
    if "WriterConfig" in writer:
        found += _writer_config(writer["WriterConfig"], f"{at}/WriterConfig")
    if "Resource" not in writer:
        # AWS: WriterConfig alone shapes the state's output and writes nothing.
        given = [f for f in ("Parameters", "Arguments") if f in writer]
        if "WriterConfig" not in writer or given:
            field = "Arguments" if jsonata else "Parameters"
            found.append(("The ResultWriter needs either 'WriterConfig', or 'Resource' and "
                          f"'{field}', or all three", at))  # fmt: skip
        return found
    if writer.get("Resource") != PUT_OBJECT:
        found.append((f"The resource of a ResultWriter must be {PUT_OBJECT}",
                      f"{at}/Resource"))  # fmt: skip
    found += _bucket_parameters(writer, at, ("Bucket",), jsonata)
    return found


def _writer_config(config: Any, at: str) -> Problems:
    if not isinstance(config, dict):
        return [("The field 'WriterConfig' must be an object", at)]
    found: Problems = [(f"Field '{f}' is not supported", at) for f in config
                       if f not in _WRITER_CONFIG]  # fmt: skip
    for field, values in _WRITER_CONFIG.items():
        if field in config and config[field] not in values:
            found.append((f"The field '{field}' should have one of these values: "
                          f"[{', '.join(values)}]", f"{at}/{field}"))  # fmt: skip
    return found
