"""AWS Signer's console pages (decision 0396): a profile made (a validity Signer refuses shown
with the form as typed), listed and shown; a ZIP in a versioned bucket signed by a job started
from the form (its version found by HEAD when left empty; an unversioned object refused
before Signer is asked), the job listed and shown with its signed object; the profile revoked
(a time in the future refused in Signer's words) and canceled after a ticked box. Each
checked against what Signer answers apart from the console; every form needs the CSRF
token."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from support.console import WIRE_ORIGIN, ConsoleHarness, csrf_of, log_in, sign_in_root
from unit.console.test_console_dynamodb_edits import alert, form_of

_VERSIONING = (
    b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Status>Enabled</Status></VersioningConfiguration>"
)


def code_zip() -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return packed.getvalue()


async def put_zip(wires: Any, principal: Any, bucket: str, key: str, *,
                  versioned: bool) -> None:  # fmt: skip
    """A bucket (versioned or not) holding a code ZIP, through S3 as the principal."""
    s3 = wires.s3
    await s3.create_bucket(WIRE_ORIGIN, principal, bucket, "eu-fr-1")
    if versioned:
        length = [(b"content-length", str(len(_VERSIONING)).encode())]
        await s3.request(WIRE_ORIGIN, principal, "PUT", f"/{bucket}", {"versioning": ""},
                         headers=length, body=_VERSIONING)  # fmt: skip
    data = code_zip()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await s3.put_object(WIRE_ORIGIN, principal, bucket, key, size=len(data),
                        content_type="application/zip", chunks=chunks())  # fmt: skip


async def make_profile(client: httpx.AsyncClient, name: str) -> httpx.Response:
    page = await client.get("/signing-profiles")
    form = {"csrf": csrf_of(page), "name": name, "validity": "12", "validity_type": "MONTHS"}
    return await client.post("/signing-profiles", data=form)


async def test_a_profile_made_a_zip_signed_the_profile_revoked_and_canceled(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        page = await client.get("/signing-profiles")
        assert page.status_code == 200, page.text
        assert 'id="no-profiles"' in page.text and 'id="menu-signer"' in page.text
        token = csrf_of(page)

        form = {"csrf": token, "name": "app_signer", "validity": "99", "validity_type": "YEARS"}
        assert (
            await client.post("/signing-profiles", data={**form, "csrf": "x"})
        ).status_code == 403
        refused = await client.post("/signing-profiles", data=form)
        assert refused.status_code == 400, alert(refused)
        assert "(ValidationException)" in alert(refused)
        typed = form_of(refused, "create-profile-form")
        assert 'name="validity" size="4" value="99"' in typed
        assert '<option value="YEARS" selected>' in typed
        assert await wires.signer.profiles(WIRE_ORIGIN, principal) == []

        made = await client.post("/signing-profiles", data={**form, "validity": "2"})
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/signing-profiles/app_signer"
        [profile] = await wires.signer.profiles(WIRE_ORIGIN, principal)
        assert (profile.status, profile.validity) == ("Active", "2 YEARS")
        listed = await client.get("/signing-profiles")
        assert f"<code>{profile.version}</code>" in listed.text
        assert "AWSLambda-SHA384-ECDSA" in listed.text or "AWS Lambda" in listed.text
        shown = await client.get("/signing-profiles/app_signer")
        assert f'id="profile-version-arn">{profile.version_arn}<' in shown.text
        assert 'id="profile-revoked">No<' in shown.text
        # A name taken: Signer's ConflictException, the form as typed.
        again = await make_profile(client, "app_signer")
        assert again.status_code == 409 and "(ConflictException)" in alert(again)

        await put_zip(wires, principal, "code", "app.zip", versioned=True)
        await put_zip(wires, principal, "flat", "app.zip", versioned=False)
        jobs = await client.get("/signing-jobs?profile=app_signer")
        assert 'id="no-jobs"' in jobs.text
        assert '<option value="app_signer" selected>' in form_of(jobs, "start-job-form")
        start = {"csrf": token, "profile": "app_signer", "source_bucket": "flat",
                 "source_key": "app.zip", "destination_bucket": "code",
                 "destination_prefix": "signed/"}  # fmt: skip
        unversioned = await client.post("/signing-jobs", data=start)
        assert unversioned.status_code == 400 and "versioning" in alert(unversioned)
        assert 'name="source_bucket" required value="flat"' in form_of(
            unversioned, "start-job-form"
        )
        assert await wires.signer.jobs(WIRE_ORIGIN, principal) == []
        signed = await client.post("/signing-jobs", data={**start, "source_bucket": "code"})
        assert signed.status_code == 303, alert(signed)
        [job] = await wires.signer.jobs(WIRE_ORIGIN, principal)
        assert signed.headers["location"] == f"/console/signing-jobs/{job.job_id}"
        assert (job.status, job.signed_key) == ("Succeeded", f"signed/{job.job_id}.zip")
        assert job.source_version and job.source_version != "null"
        shown_job = await client.get(f"/signing-jobs/{job.job_id}")
        assert 'id="job-status">Succeeded<' in shown_job.text
        assert f"code/signed/{job.job_id}.zip" in shown_job.text
        assert f'id="job-{job.job_id}"' in (await client.get("/signing-jobs")).text

        future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        revoke = {"csrf": token, "version": profile.version, "effective": future,
                  "reason": "key leaked"}  # fmt: skip
        early = await client.post("/signing-profiles/app_signer/revoke", data=revoke)
        assert early.status_code == 400 and "future" in alert(early)
        assert f'name="effective" value="{future}"' in form_of(early, "revoke-form")
        revoked = await client.post(
            "/signing-profiles/app_signer/revoke", data={**revoke, "effective": ""}
        )
        assert revoked.status_code == 303, alert(revoked)
        assert (await wires.signer.profile(WIRE_ORIGIN, principal, "app_signer")).status == (
            "Revoked"
        )
        shown = await client.get("/signing-profiles/app_signer")
        assert "key leaked" in shown.text and 'id="revoke-form"' not in shown.text

        assert 'id="cancel-form"' not in shown.text  # a revoked profile stays revoked
        assert (await make_profile(client, "other")).status_code == 303
        unticked = await client.post("/signing-profiles/other/cancel", data={"csrf": token})
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        canceled = await client.post(
            "/signing-profiles/other/cancel", data={"csrf": token, "confirm": "yes"}
        )
        assert canceled.status_code == 303, alert(canceled)
        assert (await wires.signer.profile(WIRE_ORIGIN, principal, "other")).status == ("Canceled")


async def test_the_pages_say_so_where_signer_is_not_served(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        async with console.without(client, "signer"):
            page = await client.get("/signing-profiles")
            assert page.status_code == 404
            assert "does not serve AWS Signer" in alert(page)
            assert 'id="create-profile-form"' not in page.text


async def test_a_user_without_signers_permissions_is_refused_in_its_words(
    console: ConsoleHarness,
) -> None:
    # The pages call Signer as the signed-in user: a user no policy allows is refused by
    # Signer itself (its AccessDeniedException), and nothing is made.
    await console.user_with_password(console.admin_tenant_id, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/signing-profiles")
        assert page.status_code == 403 and "(AccessDeniedException)" in alert(page)
        made = await make_profile(client, "not_mine")
        assert made.status_code == 403 and "(AccessDeniedException)" in alert(made)
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        assert await wires.signer.profiles(WIRE_ORIGIN, principal) == []
