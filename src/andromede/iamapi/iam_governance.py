"""IAM handlers for what auditors read of a whole account (decision 0193): the credential
report (GenerateCredentialReport, GetCredentialReport).

The report goes out as AWS sends it: the CSV base64-encoded in ``Content`` (a blob in
botocore's model, which decodes it), ``ReportFormat`` ``text/csv``.
"""

from __future__ import annotations

import base64

from andromede.iamapi.protocol import Call, iso8601

__all__ = ["generate_credential_report", "get_credential_report"]


async def generate_credential_report(call: Call) -> None:
    state = await call.identity.generate_credential_report(call.tenant_id)
    xml = call.result
    xml.element("State", state.value)
    if state.value == "STARTED":
        xml.element("Description", "No report exists. Starting a new report generation task")


async def get_credential_report(call: Call) -> None:
    report = await call.identity.get_credential_report(call.tenant_id)
    xml = call.result
    xml.element("Content", base64.b64encode(report.content.encode("utf-8")).decode("ascii"))
    xml.element("ReportFormat", "text/csv")
    xml.element("GeneratedTime", iso8601(report.generated_at))
