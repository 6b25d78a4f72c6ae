"""AWS Signer in the console (decision 0386 served, 0396 shown): the account's signing
profiles listed (status, platform, version), one made (a name and how long its signatures
live), one shown (its ARNs, its version, whether and from when it is revoked), revoked from
an effective time (now when left empty; never in the future, as Signer says) and canceled
after a ticked box; its signing jobs listed, one started (the source object version, where
the signed ZIP goes, the profile) and one shown (its status and reason, the signed object).

Every read and change is Signer's own call as the signed-in principal (``wire_signer``), so
its policies, checks and words decide; a refused form shows the page again with its error
and the fields as typed. A job's source version left empty is the object's current one, as
S3's HEAD answers it to the same principal (the console's help: Signer needs a version).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Change,
    Form,
    FormFault,
    Handler,
    Page,
    Typed,
    action,
    page_read,
    signed_in,
    typed_form,
    words,
)
from andromede.console.pages_lambda import whole_number
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_signer import JobRow, ProfileRow, SignerWire, SigningRequest

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["PROFILES_URL", "ROUTES", "no_signer", "profile_url"]

PROFILES_URL: Final = f"{CONSOLE_PATH}/signing-profiles"
JOBS_URL: Final = f"{CONSOLE_PATH}/signing-jobs"
VALIDITY_TYPES: Final = ("DAYS", "MONTHS", "YEARS")


def profile_url(name: str) -> str:
    return f"{PROFILES_URL}/{quote(name, safe='')}"


def job_url(job_id: str) -> str:
    return f"{JOBS_URL}/{quote(job_id, safe='')}"


def no_signer(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server does not serve AWS Signer."), 404


def _served(console: Console) -> Console | None:
    """The console itself where Signer is served: a job's start may ask S3 too."""
    return console if console.signer is not None else None


def _action(page: Page, change: Change[Console], *, form: str = "", confirmed: bool = False
            ) -> Handler:  # fmt: skip
    return action(page, change, wire=_served, form=form, confirmed=confirmed)


async def _profiles_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows, error, status = await page_read(
        console, request, console.signer,
        lambda signer: signer.profiles(request.scope, session.principal), list[ProfileRow](),
        absent=no_signer, error=error, status=status,
    )  # fmt: skip
    return console.render(
        request, "signing_profiles.html", session=session, status=status,
        title=_("Signing profiles"), profiles=rows, validity_types=VALIDITY_TYPES,
        typed=typed_form(typed, "profile"), error=error, served=console.signer is not None,
    )  # fmt: skip


async def _profile_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    profile: ProfileRow | None = None  # shown even where its jobs' listing is refused

    async def read(signer: SignerWire) -> list[JobRow]:
        nonlocal profile
        origin, principal = request.scope, session.principal
        profile = await signer.profile(origin, principal, name)
        return [j for j in await signer.jobs(origin, principal) if j.profile_name == name]

    jobs, error, status = await page_read(
        console, request, console.signer, read, list[JobRow](),
        absent=no_signer, error=error, status=status,
    )  # fmt: skip
    return console.render(
        request, "signing_profile.html", session=session, status=status,
        title=_("Signing profile {name}").format(name=name), name=name, profile=profile,
        jobs=jobs, typed=typed_form(typed, "revoke"), error=error,
    )  # fmt: skip


async def _jobs_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext

    jobs: list[JobRow] = []  # shown even where the profiles' listing is refused

    async def read(signer: SignerWire) -> list[ProfileRow]:
        nonlocal jobs
        origin, principal = request.scope, session.principal
        jobs = await signer.jobs(origin, principal)
        return await signer.profiles(origin, principal, canceled=False)

    profiles, error, status = await page_read(
        console, request, console.signer, read, list[ProfileRow](),
        absent=no_signer, error=error, status=status,
    )  # fmt: skip
    chosen = typed_form(typed, "job") or {"profile": request.query_params.get("profile", "")[:64]}
    return console.render(
        request, "signing_jobs.html", session=session, status=status,
        title=_("Signing jobs"), jobs=jobs, profiles=[p for p in profiles if p.status == "Active"],
        typed=chosen, error=error, served=console.signer is not None,
    )  # fmt: skip


async def _job_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    job_id = request.path_params["job_id"]
    job, error, status = await page_read(
        console, request, console.signer,
        lambda signer: signer.job(request.scope, session.principal, job_id), None,
        absent=no_signer, error=error, status=status,
    )  # fmt: skip
    return console.render(
        request, "signing_job.html", session=session, status=status,
        title=_("Signing job {id}").format(id=job_id), job_id=job_id, job=job, error=error,
    )  # fmt: skip


def _signer(console: Console) -> SignerWire:
    """Signer's wire; ``_served`` lets only a console that has one reach a change."""
    if console.signer is None:
        raise WireError("UnknownOperationException", "AWS Signer is not served", 404)
    return console.signer


def effective_time(text: str, now: datetime | None = None) -> int | str:
    """A revocation's effective time typed as the form's ``datetime-local`` (UTC) as epoch
    seconds; now for none; anything else as typed, for Signer to refuse in its words."""
    stripped = text.strip()
    if not stripped:
        return int((now or datetime.now(UTC)).timestamp())
    try:
        return int(datetime.fromisoformat(stripped).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return stripped


async def _create(console: Console, request: Request, session: Session, f: Form) -> str:
    name = f.get("name", "").strip()
    validity = {"value": whole_number(f.get("validity", "")), "type": f.get("validity_type", "")}
    await _signer(console).put_profile(request.scope, session.principal, name, validity)
    return profile_url(name)


async def _revoke(console: Console, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    reason = f.get("reason", "").strip()
    if not reason:
        _ = words(request)
        raise FormFault(_("Give the reason of the revocation."))
    await _signer(console).revoke_profile(
        request.scope, session.principal, name, version=f.get("version", ""),
        effective=effective_time(f.get("effective", "")), reason=reason,
    )  # fmt: skip
    return profile_url(name)


async def _cancel(console: Console, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await _signer(console).cancel_profile(request.scope, session.principal, name)
    return profile_url(name)


async def _current_version(
    console: Console, request: Request, session: Session, bucket: str, key: str
) -> str:
    """The object's current version as S3's HEAD tells the principal; a FormFault where it
    has none (an unversioned bucket: Signer signs a version only)."""
    _ = words(request)
    if not bucket or not key:
        raise FormFault(_("Name the source bucket and key."))
    answer = await console.s3.request(request.scope, session.principal, "HEAD", f"/{bucket}/{key}")
    version = answer.headers.get("x-amz-version-id", "")
    if not version or version == "null":
        raise FormFault(_("Signer signs an object version: enable the bucket's versioning."))
    return version


async def _start(console: Console, request: Request, session: Session, f: Form) -> str:
    bucket, key = f.get("source_bucket", "").strip(), f.get("source_key", "")
    version = f.get("source_version", "").strip() or await _current_version(
        console, request, session, bucket, key
    )
    signing = SigningRequest(
        profile=f.get("profile", ""),
        source_bucket=bucket,
        source_key=key,
        source_version=version,
        destination_bucket=f.get("destination_bucket", "").strip(),
        destination_prefix=f.get("destination_prefix", ""),
    )
    job_id = await _signer(console).start_job(request.scope, session.principal, signing)
    return job_url(job_id)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/signing-profiles", signed_in(_profiles_page), ["GET"]),
    ("/signing-profiles", _action(_profiles_page, _create, form="profile"), ["POST"]),
    ("/signing-profiles/{name}", signed_in(_profile_page), ["GET"]),
    ("/signing-profiles/{name}/revoke", _action(_profile_page, _revoke, form="revoke"), ["POST"]),
    (
        "/signing-profiles/{name}/cancel",
        _action(_profile_page, _cancel, confirmed=True),
        ["POST"],
    ),
    ("/signing-jobs", signed_in(_jobs_page), ["GET"]),
    ("/signing-jobs", _action(_jobs_page, _start, form="job"), ["POST"]),
    ("/signing-jobs/{job_id}", signed_in(_job_page), ["GET"]),
]
