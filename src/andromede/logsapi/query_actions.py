"""CloudWatch Logs Insights' operations (decision 0186, session-48 addendum): StartQuery,
GetQueryResults, StopQuery and DescribeQueries over :class:`InsightsService`, and the saved
queries' PutQueryDefinition, DescribeQueryDefinitions and DeleteQueryDefinition, shaped as
AWS answers them. StartQuery authorises ``logs:StartQuery`` on each group's ARN (and
``logs:Unmask`` when the query holds ``unmask(@message)``, decision 0211); the others,
which name a query rather than a group, ``logs:<Op>`` on ``*`` as AWS's model has it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.insights import InsightsService
from andromede.logs.insights_query import parse_query
from andromede.logs.model import check_group_name
from andromede.logs.queries import QueryRecord
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.errors import LogsWireError
from andromede.logsapi.params import integer, optional_str, required_str, strings

__all__ = ["QUERY_ACTIONS"]

_LANGUAGE: Final = "CWLI"


def _insights(call: LogsCall) -> InsightsService:
    if call.insights is None:
        raise LogsWireError(
            "UnsupportedOperationException", "Logs Insights is not served by this deployment"
        )
    return call.insights


def _language(call: LogsCall) -> None:
    language = optional_str(call.params, "queryLanguage")
    if language not in (None, _LANGUAGE):
        raise InvalidParameter(
            f"queryLanguage {language[:16]!r} is not served here: CWLI only (decision 0186)"
        )


def _groups(call: LogsCall) -> list[str]:
    single = optional_str(call.params, "logGroupName")
    names = strings(call.params, "logGroupNames")
    identifiers = strings(call.params, "logGroupIdentifiers")
    given = [g for g in (single, names, identifiers) if g is not None]
    if len(given) != 1:
        raise InvalidParameter(
            "Exactly one of logGroupName, logGroupNames and logGroupIdentifiers is required."
        )
    if single is not None:
        return [check_group_name(single)]
    if names is not None:
        return [check_group_name(n, "logGroupNames") for n in names]
    return [
        call.name_from_arn(i) if i.startswith("arn:") else check_group_name(i)
        for i in identifiers or []
    ]


def _seconds(call: LogsCall, name: str) -> int:
    value = integer(call.params, name)
    if value is None:
        raise InvalidParameter(
            f"1 validation error detected: Value null at '{name}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if value < 0:
        raise InvalidParameter(f"{name} must not be negative")
    return value


async def start_query(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    groups = _groups(call)
    for group in groups:
        await call.allow("StartQuery", call.group_arn(group))
    _language(call)
    query_string = required_str(call.params, "queryString")
    unmasks = parse_query(query_string).unmasks
    if unmasks:
        # ``unmask(@message)`` shows what data protection masked: the caller must hold
        # logs:Unmask on every group queried, checked before any event is read (0211).
        for group in groups:
            await call.allow("Unmask", call.group_arn(group))
    query_id = await insights.start_query(
        call.tenant_id,
        groups,
        _seconds(call, "startTime"),
        _seconds(call, "endTime"),
        query_string,
        integer(call.params, "limit"),
        may_unmask=unmasks,
    )
    return {"queryId": query_id}


def _query_id(call: LogsCall) -> str:
    query_id = required_str(call.params, "queryId")
    if not 1 <= len(query_id) <= 256:
        raise InvalidParameter("queryId must be between 1 and 256 characters")
    return query_id


async def get_query_results(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    await call.allow("GetQueryResults", "*")
    record = await insights.get_results(call.tenant_id, _query_id(call))
    return {
        "queryLanguage": _LANGUAGE,
        "results": [[{"field": f, "value": v} for f, v in row] for row in record.results],
        "statistics": {
            "recordsMatched": record.statistics.get("recordsMatched", 0.0),
            "recordsScanned": record.statistics.get("recordsScanned", 0.0),
            "bytesScanned": record.statistics.get("bytesScanned", 0.0),
        },
        "status": record.status.value,
    }


async def stop_query(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    await call.allow("StopQuery", "*")
    return {"success": await insights.stop_query(call.tenant_id, _query_id(call))}


def _query_shape(record: QueryRecord) -> dict[str, Any]:
    return {
        "queryLanguage": _LANGUAGE,
        "queryId": record.query_id,
        "queryString": record.query_string,
        "status": record.status.value,
        "createTime": record.created,
        "logGroupName": record.groups[0],
    }


async def describe_queries(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    group = optional_str(call.params, "logGroupName")
    if group is not None:
        check_group_name(group)
    await call.allow("DescribeQueries", "*")
    _language(call)
    found, token = await insights.describe_queries(
        call.tenant_id,
        group,
        optional_str(call.params, "status"),
        integer(call.params, "maxResults"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {"queries": [_query_shape(q) for q in found]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def put_query_definition(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    await call.allow("PutQueryDefinition", "*")
    _language(call)
    optional_str(call.params, "clientToken")  # accepted: a put is idempotent by its id
    definition_id = await insights.put_definition(
        call.tenant_id,
        required_str(call.params, "name"),
        required_str(call.params, "queryString"),
        strings(call.params, "logGroupNames") or [],
        optional_str(call.params, "queryDefinitionId"),
    )
    return {"queryDefinitionId": definition_id}


async def describe_query_definitions(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    await call.allow("DescribeQueryDefinitions", "*")
    _language(call)
    found, token = await insights.describe_definitions(
        call.tenant_id,
        optional_str(call.params, "queryDefinitionNamePrefix") or "",
        integer(call.params, "maxResults"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {
        "queryDefinitions": [
            {
                "queryLanguage": _LANGUAGE,
                "queryDefinitionId": d.definition_id,
                "name": d.name,
                "queryString": d.query_string,
                "lastModified": d.modified,
                "logGroupNames": list(d.groups),
            }
            for d in found
        ]
    }
    if token is not None:
        answer["nextToken"] = token
    return answer


async def delete_query_definition(call: LogsCall) -> dict[str, Any]:
    insights = _insights(call)
    await call.allow("DeleteQueryDefinition", "*")
    await insights.delete_definition(call.tenant_id, required_str(call.params, "queryDefinitionId"))
    return {"success": True}


QUERY_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "StartQuery": start_query,
    "GetQueryResults": get_query_results,
    "StopQuery": stop_query,
    "DescribeQueries": describe_queries,
    "PutQueryDefinition": put_query_definition,
    "DescribeQueryDefinitions": describe_query_definitions,
    "DeleteQueryDefinition": delete_query_definition,
}
