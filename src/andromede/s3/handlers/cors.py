"""CORS on the wire: Get/Put/DeleteBucketCors, the browser's preflight (``OPTIONS``), and the
``Access-Control-*`` headers of a cross-origin request's answer (decision 0077).

A preflight is never signed (browsers send none), so it is answered from the bucket's CORS
rules alone, before authentication, and says nothing but what the owner's rules say: which
origins, methods and headers a browser may use. A request that carries ``Origin`` is
authenticated and authorised as any other; the rule that matches its origin and method only
adds headers to its answer, so that the browser lets the page read it. No rule ever grants
access: CORS tells browsers what they may show, not what S3 lets a caller do.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree.ElementTree import Element

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage.cors import CORS_METHODS, CorsConfiguration, CorsRule

__all__ = [
    "add_cors_headers",
    "delete_bucket_cors",
    "get_bucket_cors",
    "preflight",
    "put_bucket_cors",
]

_MAX_RULE_ID = 255
_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


async def get_bucket_cors(ctx: S3Context, svc: S3Services) -> Response:
    config = await svc.objects.get_bucket_cors(ctx.bucket)
    if config is None:
        raise S3Error("NoSuchCORSConfiguration")
    xml = XmlWriter("CORSConfiguration")
    for rule in config.rules:
        xml.open("CORSRule")
        if rule.rule_id is not None:
            xml.element("ID", rule.rule_id)
        for header in rule.allowed_headers:
            xml.element("AllowedHeader", header)
        for method in rule.allowed_methods:
            xml.element("AllowedMethod", method)
        for origin in rule.allowed_origins:
            xml.element("AllowedOrigin", origin)
        for header in rule.expose_headers:
            xml.element("ExposeHeader", header)
        if rule.max_age_seconds is not None:
            xml.element("MaxAgeSeconds", rule.max_age_seconds)
        xml.close("CORSRule")
    return xml_response(xml)


async def put_bucket_cors(ctx: S3Context, svc: S3Services) -> Response:
    body = await ctx.read_xml_body(integrity_required=True)
    config = parse_cors(body, ctx.settings.max_cors_rules)
    await svc.objects.set_bucket_cors(ctx.bucket, config)
    return Response()


async def delete_bucket_cors(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_cors(ctx.bucket, None)
    return Response(status=204)


def parse_cors(body: bytes, max_rules: int) -> CorsConfiguration:
    """A ``CORSConfiguration`` document, checked as S3 checks it (at most ``max_rules``)."""
    root = parse_xml(body, "CORSConfiguration")
    elements = children(root, "CORSRule")
    if not elements:
        raise S3Error("MalformedXML")
    if len(elements) > max_rules:
        raise S3Error(
            "InvalidRequest", f"The CORS configuration may have at most {max_rules} rules"
        )
    return CorsConfiguration(tuple(_parse_rule(element) for element in elements))


def _texts(element: Element, name: str) -> tuple[str, ...]:
    return tuple((child.text or "").strip() for child in children(element, name))


def _parse_rule(element: Element) -> CorsRule:
    methods = _texts(element, "AllowedMethod")
    origins = _texts(element, "AllowedOrigin")
    if not methods or not origins or any(not origin for origin in origins):
        raise S3Error("MalformedXML")
    for method in methods:
        if method not in CORS_METHODS:
            raise S3Error(
                "InvalidRequest",
                "Found unsupported HTTP method in CORS config. Unsupported method is "
                + method[:16],
            )
    headers = _texts(element, "AllowedHeader")
    for kind, patterns in (("AllowedOrigin", origins), ("AllowedHeader", headers)):
        for pattern in patterns:
            if pattern.count("*") > 1:
                raise S3Error(
                    "InvalidRequest",
                    f'{kind} "{pattern[:128]}" can not have more than one wildcard.',
                )
    rule_id = child_text(element, "ID")
    if rule_id is not None and len(rule_id) > _MAX_RULE_ID:
        raise S3Error("InvalidArgument", "The ID of a CORS rule is at most 255 characters")
    raw_age = child_text(element, "MaxAgeSeconds")
    max_age = None
    if raw_age is not None:
        value = raw_age.strip()
        if not value.lstrip("-").isdigit():
            raise S3Error("MalformedXML")
        max_age = int(value)
    return CorsRule(
        allowed_methods=tuple(dict.fromkeys(methods)),
        allowed_origins=origins,
        allowed_headers=headers,
        expose_headers=tuple(h for h in _texts(element, "ExposeHeader") if h),
        max_age_seconds=max_age,
        rule_id=rule_id,
    )


def _request_headers(raw: str | None) -> list[str]:
    if raw is None:
        return []
    return [name.strip() for name in raw.split(",") if name.strip()]


def _allow(response: Response, rule: CorsRule, origin: str) -> None:
    """The headers that let a browser use the answer, per the rule that matched."""
    if "*" in rule.allowed_origins and origin not in rule.allowed_origins:
        response.header("Access-Control-Allow-Origin", "*")
    else:
        response.header("Access-Control-Allow-Origin", origin)
        response.header("Access-Control-Allow-Credentials", "true")
    response.header("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods))
    if rule.expose_headers:
        response.header("Access-Control-Expose-Headers", ", ".join(rule.expose_headers))
    if rule.max_age_seconds is not None:
        response.header("Access-Control-Max-Age", str(rule.max_age_seconds))


async def preflight(svc: S3Services, bucket: str | None, headers: Mapping[str, str]) -> Response:
    """The answer to a browser's ``OPTIONS``: 200 with the rule's headers, or 403 when no rule
    lets this origin, method and these headers in."""
    origin = headers.get("origin")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    method = headers.get("access-control-request-method")
    if not method:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null")
    if bucket is None:
        raise S3Error("AccessForbidden", "CORSResponse: Bucket not found")
    config = await svc.objects.get_bucket_cors(bucket)
    if config is None:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
    requested = _request_headers(headers.get("access-control-request-headers"))
    rule = config.rule_for(origin, method.strip(), requested)
    if rule is None:
        raise S3Error(
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the "
            "evalution of Origin, request method / Access-Control-Request-Method or "
            "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
    response = Response()
    _allow(response, rule, origin)
    if requested:
        response.header("Access-Control-Allow-Headers", ", ".join(requested))
    response.header("Vary", _VARY)
    return response


async def add_cors_headers(
    svc: S3Services, bucket: str, method: str, origin: str, response: Response
) -> None:
    """The ``Access-Control-*`` headers of a cross-origin request's answer, when the bucket's
    rules let ``origin`` use ``method``; nothing when they do not, or the bucket has none."""
    try:
        config = await svc.objects.get_bucket_cors(bucket)
    except AndromedeError:
        # The answer is decided already (an error of its own, often): without the rules it
        # goes without CORS headers, which a browser reads as "not allowed".
        return
    if config is None:
        return
    rule = config.rule_for(origin, method)
    if rule is not None:
        _allow(response, rule, origin)
    response.header("Vary", _VARY)
