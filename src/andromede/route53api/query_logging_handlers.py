"""Route 53's query logging configurations on the wire (decision 0305): CreateQueryLoggingConfig
(201 with ``Location``), GetQueryLoggingConfig, DeleteQueryLoggingConfig and
ListQueryLoggingConfigs (``hostedzoneid``, ``maxresults`` up to 100, ``nexttoken`` the next
configuration's id), in botocore's ``route53`` shapes. CreateQueryLoggingConfig is authorised
on the hosted zone its body names, as AWS's service authorisation reference gives it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.query_logging import MAX_RESULTS, QueryLoggingConfig, QueryLoggingService
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import bounded_page_size, hosted_zone_id
from andromede.route53api.operations import Route

__all__ = ["QUERY_LOGGING_HANDLERS", "with_zone_of_body"]

QueryLoggingHandler = Callable[
    [QueryLoggingService, str, Route, Mapping[str, str], bytes], Awaitable[Response]
]
_TOKEN: Final = re.compile(r"^[0-9a-f-]{1,36}$")


def with_zone_of_body(
    operation: Route, body: bytes, creating: str = "CreateQueryLoggingConfig"
) -> Route:
    """The route of ``creating`` with the zone its body names, for IAM (a path names none):
    CreateQueryLoggingConfig's, or CreateKeySigningKey's (``dnssec_handlers.with_key_zone``)."""
    if operation.name != creating:
        return operation
    root = wire.document(body, f"{creating}Request")
    return dataclasses.replace(
        operation, zone_id=hosted_zone_id(wire.text(root, "HostedZoneId", required=True) or "")
    )


def _write(xml: XmlWriter, config: QueryLoggingConfig) -> None:
    xml.open("QueryLoggingConfig")
    xml.element("Id", config.config_id)
    xml.element("HostedZoneId", config.zone_id)
    xml.element("CloudWatchLogsLogGroupArn", config.group_arn)
    xml.close("QueryLoggingConfig")


async def create(
    service: QueryLoggingService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateQueryLoggingConfigRequest")
    zone_id = hosted_zone_id(wire.text(root, "HostedZoneId", required=True) or "")
    group_arn = wire.text(root, "CloudWatchLogsLogGroupArn", required=True) or ""
    config = await service.create(tenant, zone_id, group_arn)
    xml = wire.writer("CreateQueryLoggingConfigResponse")
    _write(xml, config)
    return wire.answer(xml, 201, f"/2013-04-01/queryloggingconfig/{config.config_id}")


async def get(
    service: QueryLoggingService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    config = await service.get(tenant, op.query_logging_id)
    xml = wire.writer("GetQueryLoggingConfigResponse")
    _write(xml, config)
    return wire.answer(xml)


async def delete(
    service: QueryLoggingService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    await service.delete(tenant, op.query_logging_id)
    return wire.answer(wire.writer("DeleteQueryLoggingConfigResponse"))


async def list_configs(
    service: QueryLoggingService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = bounded_page_size(query.get("maxresults"), "MaxResults", MAX_RESULTS)
    token = query.get("nexttoken")
    if token is not None and not _TOKEN.match(token):
        raise Route53WireError("InvalidPaginationToken", "The specified NextToken is not valid.")
    zone = query.get("hostedzoneid")
    configs, following = await service.list(
        tenant, None if zone is None else hosted_zone_id(zone), limit, token
    )
    xml = wire.writer("ListQueryLoggingConfigsResponse")
    xml.open("QueryLoggingConfigs")
    for config in configs:
        _write(xml, config)
    xml.close("QueryLoggingConfigs")
    if following is not None:
        xml.element("NextToken", following)
    return wire.answer(xml)


QUERY_LOGGING_HANDLERS: Final[dict[str, QueryLoggingHandler]] = {
    "CreateQueryLoggingConfig": create,
    "GetQueryLoggingConfig": get,
    "DeleteQueryLoggingConfig": delete,
    "ListQueryLoggingConfigs": list_configs,
}
