"""What the calls of S3 Control's access-point-like resources share (decision 0405): S3 access
points (0157), Object Lambda access points (0384) and Multi-Region Access Points (0385), each
an account's named door kept in a :class:`~andromede.storage.named_points.NamedPointStore`.

This module owns their common wire behaviour: the name's check, the create's answer to the
store's refusals, the point a call names or ``NoSuch…``, a listing's page (``maxResults`` and
a ``nextToken``), and the policy's calls (the Put document, the policy's grammar for the
point, BlockPublicPolicy, the Get and GetPolicyStatus answers). The call modules keep what
their kind alone has, and the names of their requests and results.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.iam.policy import (
    S3_BUCKET_POLICY_MAX,
    MalformedPolicy,
    PolicyKind,
    is_public,
    load_policy,
    parse_policy,
)
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE
from andromede.storage.access_points import access_point_name_problem
from andromede.storage.model import PublicAccessBlock
from andromede.storage.named_points import (
    NamedPoint,
    NamedPointStore,
    PointExists,
    PointQuotaExceeded,
)

__all__ = [
    "PageRequest",
    "check_name",
    "create_point",
    "delete_point",
    "delete_policy",
    "existing",
    "name_token",
    "page_request",
    "policy_response",
    "policy_status_response",
    "put_policy_text",
    "query_params",
    "refuse_public_policy",
    "validate_policy",
    "xml_response",
]

P = TypeVar("P", bound=NamedPoint)

_XML: Final = (("Content-Type", "application/xml"),)
_PAGE_LARGEST: Final = 1000  # AWS's maxResults: 1 to 1000


def xml_response(xml: XmlWriter) -> Response:
    return Response(headers=list(_XML), body=xml.document())


def check_name(name: str, kind: str, *, longest: int | None = None) -> None:
    """A name of the access points' rules (and at most ``longest`` characters), or
    ``InvalidRequest`` saying which rule the ``kind``'s name breaks."""
    problem = access_point_name_problem(name)
    if problem is None and longest is not None and len(name) > longest:
        problem = f"must be at most {longest} characters"
    if problem is not None:
        raise S3ControlError("InvalidRequest", f"The {kind} name {problem}")


async def create_point(store: NamedPointStore[P], point: P, *, quota: int, kinds: str) -> None:
    """Create ``point``; a name taken is ``AccessPointAlreadyOwnedByYou`` (AWS's code for all
    three kinds), the quota reached ``InvalidRequest`` naming the ``kinds``."""
    try:
        await store.create(point, quota=quota)
    except PointExists as exc:
        raise S3ControlError("AccessPointAlreadyOwnedByYou") from exc
    except PointQuotaExceeded as exc:
        raise S3ControlError(
            "InvalidRequest", f"The account has reached its quota of {quota} {kinds}"
        ) from exc


async def existing(
    store: NamedPointStore[P], account: str, name: str, *, missing: str = "NoSuchAccessPoint"
) -> P:
    """The account's point of that name, or the ``missing`` error."""
    found = await store.get(account, name)
    if found is None:
        raise S3ControlError(missing)
    return found


async def delete_point(store: NamedPointStore[Any], account: str, name: str) -> Response:
    if not await store.delete(account, name):
        raise S3ControlError("NoSuchAccessPoint")
    return Response(status=204)


def name_token(name: str) -> str:
    """The ``nextToken`` of a page that ends at ``name``."""
    return base64.urlsafe_b64encode(name.encode()).decode()


def _token_name(token: str) -> str:
    try:
        name = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise S3ControlError("InvalidRequest", "The continuation token is not valid") from exc
    if access_point_name_problem(name) is not None:
        raise S3ControlError("InvalidRequest", "The continuation token is not valid")
    return name


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A listing's page: at most ``limit`` points, those named after ``after``."""

    limit: int
    after: str | None

    @property
    def fetch(self) -> int:
        """How many to ask the store for: one more than the page shows, to learn whether
        another page follows."""
        return self.limit + 1

    def last_name(self, found: Sequence[NamedPoint]) -> str | None:
        """The name the next page starts after (None: this page is the last)."""
        return found[self.limit - 1].name if len(found) > self.limit else None


def query_params(query: str) -> dict[str, str]:
    """A query string's parameters, the last of each name."""
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def page_request(params: Mapping[str, str], page_max: int) -> PageRequest:
    """The page a ListAccessPoints(ForObjectLambda) asks: ``maxResults`` 1 to 1000 (at most
    ``page_max`` served), ``nextToken`` as :func:`name_token` made it."""
    limit = page_max
    if "maxResults" in params:
        raw = params["maxResults"]
        if not raw.isdigit() or not 0 < int(raw) <= _PAGE_LARGEST:
            raise S3ControlError("InvalidRequest", "maxResults must be 1 to 1000")
        limit = min(limit, int(raw))
    token = params.get("nextToken")
    return PageRequest(limit, _token_name(token) if token else None)


def put_policy_text(body: bytes, root_name: str) -> str:
    """The ``Policy`` text of a Put…Policy request, its document's only element."""
    root = request_document(body, root_name)
    texts = [child.text or "" for child in root if local_name(child.tag) == "Policy"]
    if len(texts) != 1 or len(root) != 1:
        raise S3ControlError("MalformedXML")
    return texts[0]


def validate_policy(text: str, arn: str, *, service: str = "s3") -> None:
    """A point's policy as S3 takes it: the policy grammar, ``service``'s actions, resources
    that are the point (``<arn>``) or its objects (``<arn>/object/…``)."""
    if not text.strip():
        raise S3ControlError("MalformedPolicy", "Policies must be valid JSON")
    try:
        policy = parse_policy(
            text.encode("utf-8"), kind=PolicyKind.RESOURCE, max_size=S3_BUCKET_POLICY_MAX
        )
    except MalformedPolicy as exc:
        raise S3ControlError("MalformedPolicy", exc.message) from exc
    for statement in policy.statements:
        for action in statement.actions:
            if action != "*" and not action.lower().startswith(f"{service}:"):
                raise S3ControlError("MalformedPolicy", "Policy has invalid action")
        for resource in statement.resources or ():
            if resource != arn and not resource.startswith(arn + "/object/"):
                raise S3ControlError("MalformedPolicy", "Policy has invalid resource")


def refuse_public_policy(text: str, block: PublicAccessBlock | None) -> None:
    """``AccessDenied`` for a public policy where ``block`` (the point's, or the stricter of
    it and its account's) has BlockPublicPolicy on."""
    if (
        block is not None
        and block.block_public_policy
        and is_public(load_policy(text, kind=PolicyKind.RESOURCE))
    ):
        raise S3ControlError("AccessDenied")


def policy_response(result: str, policy: str | None) -> Response:
    """A Get…Policy answer, ``NoSuchAccessPointPolicy`` for a point without one."""
    if policy is None:
        raise S3ControlError("NoSuchAccessPointPolicy")
    xml = XmlWriter(result, namespace=NAMESPACE)
    xml.element("Policy", policy)
    return xml_response(xml)


def policy_status_response(result: str, policy: str | None) -> Response:
    """A Get…PolicyStatus answer: whether the policy is public (AWS's rules)."""
    if policy is None:
        raise S3ControlError("NoSuchAccessPointPolicy")
    xml = XmlWriter(result, namespace=NAMESPACE)
    xml.open("PolicyStatus")
    xml.element("IsPublic", is_public(load_policy(policy, kind=PolicyKind.RESOURCE)))
    xml.close("PolicyStatus")
    return xml_response(xml)


async def delete_policy(store: NamedPointStore[Any], account: str, name: str) -> Response:
    await existing(store, account, name)
    await store.set_policy(account, name, None)
    return Response(status=204)
