"""Kinesis' enhanced monitoring (decision 0245): EnableEnhancedMonitoring and
DisableEnhancedMonitoring, each authorised as ``kinesis:<Action>`` on the stream's ARN, answer
the stream's shard-level metrics before (``CurrentShardLevelMetrics``) and after
(``DesiredShardLevelMetrics``) as AWS does; the metrics enabled are written per shard by the
service's observer (``wiring.kinesis``)."""

from __future__ import annotations

from typing import Any, Final

from andromede.kinesis.model import SHARD_LEVEL_METRICS
from andromede.kinesisapi.params import Handler, KinesisCall, invalid
from andromede.kinesisapi.streams import named_stream

__all__ = ["MONITORING_ACTIONS"]

_MAX_METRICS: Final = 7  # the API model's bound of ShardLevelMetrics
_NAMES: Final = (*SHARD_LEVEL_METRICS, "ALL")


def _metrics(call: KinesisCall) -> list[str]:
    named = call.params.get("ShardLevelMetrics")
    if named is None:
        raise invalid("shardLevelMetrics", "Member must not be null")
    if not isinstance(named, list) or not all(isinstance(n, str) for n in named):
        raise invalid("shardLevelMetrics", "Member must be a list of strings")
    if not 1 <= len(named) <= _MAX_METRICS:
        raise invalid("shardLevelMetrics", "Member must have length between 1 and 7")
    if any(n not in _NAMES for n in named):
        raise invalid("shardLevelMetrics", "Member must satisfy constraint: [Member must "
                      f"satisfy enum value set: [{', '.join(_NAMES)}]]")  # fmt: skip
    return named


async def _monitoring(call: KinesisCall, action: str, *, enable: bool) -> dict[str, Any]:
    metrics = _metrics(call)
    stream = await named_stream(call, action)
    before, after = await call.kinesis.set_monitoring(
        call.tenant_id, stream.name, metrics, enable=enable
    )
    return {
        "StreamName": after.name,
        "StreamARN": after.arn,
        "CurrentShardLevelMetrics": list(before.shard_level_metrics),
        "DesiredShardLevelMetrics": list(after.shard_level_metrics),
    }


async def enable_enhanced_monitoring(call: KinesisCall) -> dict[str, Any]:
    return await _monitoring(call, "EnableEnhancedMonitoring", enable=True)


async def disable_enhanced_monitoring(call: KinesisCall) -> dict[str, Any]:
    return await _monitoring(call, "DisableEnhancedMonitoring", enable=False)


MONITORING_ACTIONS: Final[dict[str, Handler]] = {
    "DisableEnhancedMonitoring": disable_enhanced_monitoring,
    "EnableEnhancedMonitoring": enable_enhanced_monitoring,
}
