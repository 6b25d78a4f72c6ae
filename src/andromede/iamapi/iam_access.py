"""IAM handlers of service last accessed (decision 0193): GenerateServiceLastAccessedDetails
starts a job for a user, group, role or managed policy; GetServiceLastAccessedDetails answers
its summary, computed from the account's audit trail up to the job's time (read here, where
the audit service is at hand) and the access keys' last use.

The job is done as soon as it is made: ``JobStatus`` is always ``COMPLETED``.
"""

from __future__ import annotations

from andromede.iam.service_access import Access, ServiceAccess, service_name, summarise
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import page, write_truncation
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "access_job_resource",
    "generate_service_last_accessed_details",
    "get_service_last_accessed_details",
]

_READ = 1000


async def access_job_resource(call: Call) -> str:
    """AWS authorises GenerateServiceLastAccessedDetails on the entity's ARN."""
    return call.required("Arn")


async def generate_service_last_accessed_details(call: Call) -> None:
    job = await call.identity.generate_service_last_accessed(
        call.tenant_id, call.required("Arn"), call.get("Granularity") or "SERVICE_LEVEL"
    )
    call.result.element("JobId", job.job_id)


async def _uses(call: Call) -> list[Access]:
    if call.audit is None:  # every app is built with its audit service
        raise QueryError("ServiceFailure")
    uses: list[Access] = []
    after = 0
    while True:
        chunk = await call.audit.events(call.tenant_id, after_id=after, limit=_READ)
        for number, event in chunk:
            after = number
            if event.principal is not None:
                uses.append(Access(event.occurred_at, event.principal, event.action))
        if len(chunk) < _READ:
            return uses


def _write_service(call: Call, service: ServiceAccess, *, actions: bool) -> None:
    xml = call.result
    xml.open("member")
    xml.element("ServiceName", service_name(service.namespace))
    if service.last is not None:
        xml.element("LastAuthenticated", iso8601(service.last.when))
    xml.element("ServiceNamespace", service.namespace)
    if service.last is not None:
        xml.element("LastAuthenticatedEntity", service.last.principal)
        xml.element("LastAuthenticatedRegion", service.last.region)
    xml.element("TotalAuthenticatedEntities", service.total_entities)
    if actions:
        xml.open("TrackedActionsLastAccessed")
        for tracked in service.actions:
            xml.open("member")
            xml.element("ActionName", tracked.name)
            xml.element("LastAccessedEntity", tracked.entity)
            xml.element("LastAccessedTime", iso8601(tracked.when))
            xml.element("LastAccessedRegion", tracked.region)
            xml.close("member")
        xml.close("TrackedActionsLastAccessed")
    xml.close("member")


async def get_service_last_accessed_details(call: Call) -> None:
    job = await call.identity.service_access_job(call.tenant_id, call.required("JobId"))
    scope = await call.identity.access_scope(call.tenant_id, job.arn)
    services = summarise(scope, await _uses(call), job.created_at)
    chosen, marker = page(call, services, lambda s: s.namespace)
    xml = call.result
    xml.element("JobStatus", "COMPLETED")
    xml.element("JobType", job.granularity)
    xml.element("JobCreationDate", iso8601(job.created_at))
    xml.open("ServicesLastAccessed")
    for service in chosen:
        _write_service(call, service, actions=job.granularity == "ACTION_LEVEL")
    xml.close("ServicesLastAccessed")
    xml.element("JobCompletionDate", iso8601(job.created_at))
    write_truncation(xml, marker)
