"""Get/Put/DeleteBucketWebsite: a bucket's static-website configuration on the S3 API
(decision 0081). What a website endpoint does with it is ``s3/website.py``'s.

The document is checked as S3 checks it: either ``RedirectAllRequestsTo`` alone, or an
``IndexDocument`` whose suffix is not empty and has no ``/``, with an optional
``ErrorDocument`` and up to ``max_website_routing_rules`` routing rules; each rule's redirect
says something, its condition (when present) names a key prefix or a 4XX/5XX code, its
redirect code is a 3XX but 300, and its protocol ``http`` or ``https``.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import (
    XmlWriter,
    child_text,
    children,
    only_child,
    parse_xml,
    stripped_child_text,
)
from andromede.storage.website import Redirect, RedirectAll, RoutingRule, WebsiteConfiguration

__all__ = [
    "delete_bucket_website",
    "get_bucket_website",
    "parse_website",
    "put_bucket_website",
]

_PROTOCOLS = frozenset({"http", "https"})


async def get_bucket_website(ctx: S3Context, svc: S3Services) -> Response:
    config = await svc.objects.get_bucket_website(ctx.bucket)
    if config is None:
        raise S3Error("NoSuchWebsiteConfiguration", BucketName=ctx.bucket)
    xml = XmlWriter("WebsiteConfiguration")
    if config.redirect_all is not None:
        xml.open("RedirectAllRequestsTo")
        xml.element("HostName", config.redirect_all.host_name)
        xml.element("Protocol", config.redirect_all.protocol)
        xml.close("RedirectAllRequestsTo")
    if config.index_suffix is not None:
        xml.open("IndexDocument")
        xml.element("Suffix", config.index_suffix)
        xml.close("IndexDocument")
    if config.error_key is not None:
        xml.open("ErrorDocument")
        xml.element("Key", config.error_key)
        xml.close("ErrorDocument")
    if config.routing_rules:
        xml.open("RoutingRules")
        for rule in config.routing_rules:
            _write_rule(xml, rule)
        xml.close("RoutingRules")
    return xml_response(xml)


def _write_rule(xml: XmlWriter, rule: RoutingRule) -> None:
    xml.open("RoutingRule")
    if rule.key_prefix_equals is not None or rule.http_error_code_returned_equals is not None:
        xml.open("Condition")
        if rule.http_error_code_returned_equals is not None:
            xml.element("HttpErrorCodeReturnedEquals", rule.http_error_code_returned_equals)
        xml.element("KeyPrefixEquals", rule.key_prefix_equals)
        xml.close("Condition")
    redirect = rule.redirect
    xml.open("Redirect")
    xml.element("HostName", redirect.host_name)
    xml.element("HttpRedirectCode", redirect.http_redirect_code)
    xml.element("Protocol", redirect.protocol)
    xml.element("ReplaceKeyPrefixWith", redirect.replace_key_prefix_with)
    xml.element("ReplaceKeyWith", redirect.replace_key_with)
    xml.close("Redirect")
    xml.close("RoutingRule")


async def put_bucket_website(ctx: S3Context, svc: S3Services) -> Response:
    body = await ctx.read_xml_body(integrity_required=True)
    config = parse_website(body, ctx.settings.max_website_routing_rules)
    await svc.objects.set_bucket_website(ctx.bucket, config)
    return Response()


async def delete_bucket_website(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_website(ctx.bucket, None)
    return Response(status=204)


def parse_website(body: bytes, max_rules: int) -> WebsiteConfiguration:
    """A ``WebsiteConfiguration`` document, checked as S3 checks it."""
    root = parse_xml(body, "WebsiteConfiguration")
    redirect_all_element = only_child(root, "RedirectAllRequestsTo")
    index_element = only_child(root, "IndexDocument")
    error_element = only_child(root, "ErrorDocument")
    rules_element = only_child(root, "RoutingRules")
    if redirect_all_element is not None:
        if index_element is not None or error_element is not None or rules_element is not None:
            raise S3Error(
                "InvalidArgument",
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            )
        host = stripped_child_text(redirect_all_element, "HostName")
        if not host:
            raise S3Error("MalformedXML")
        protocol = _protocol(redirect_all_element)
        return WebsiteConfiguration(redirect_all=RedirectAll(host, protocol))
    if index_element is None:
        raise S3Error(
            "InvalidArgument",
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        )
    suffix = stripped_child_text(index_element, "Suffix")
    if not suffix or "/" in suffix:
        raise S3Error("InvalidArgument", "The IndexDocument Suffix is not well formed")
    error_key = None
    if error_element is not None:
        error_key = stripped_child_text(error_element, "Key")
        if not error_key:
            raise S3Error("InvalidArgument", "The ErrorDocument Key is not well formed")
    rules: tuple[RoutingRule, ...] = ()
    if rules_element is not None:
        elements = children(rules_element, "RoutingRule")
        if not elements:
            raise S3Error("MalformedXML")
        if len(elements) > max_rules:
            raise S3Error(
                "InvalidRequest",
                f"The website configuration may have at most {max_rules} routing rules",
            )
        rules = tuple(_parse_rule(element) for element in elements)
    return WebsiteConfiguration(index_suffix=suffix, error_key=error_key, routing_rules=rules)


def _parse_rule(element: Element) -> RoutingRule:
    redirect_element = only_child(element, "Redirect")
    if redirect_element is None:
        raise S3Error("MalformedXML")
    prefix = None
    error_code = None
    condition = only_child(element, "Condition")
    if condition is not None:
        prefix = child_text(condition, "KeyPrefixEquals")
        raw_code = stripped_child_text(condition, "HttpErrorCodeReturnedEquals")
        if prefix is None and raw_code is None:
            raise S3Error(
                "InvalidArgument",
                "Condition cannot be empty. To redirect all requests without a condition, the "
                "condition element shouldn't be present.",
            )
        if raw_code is not None:
            error_code = _status(raw_code)
            if not 400 <= error_code <= 599:
                raise S3Error(
                    "InvalidArgument",
                    f"The provided HTTP error code ({raw_code[:8]}) is not valid. Valid codes "
                    "are 4XX or 5XX.",
                )
    replace_prefix = child_text(redirect_element, "ReplaceKeyPrefixWith")
    replace_key = child_text(redirect_element, "ReplaceKeyWith")
    if replace_prefix is not None and replace_key is not None:
        raise S3Error(
            "InvalidArgument",
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
        )
    raw_redirect_code = stripped_child_text(redirect_element, "HttpRedirectCode")
    redirect_code = None
    if raw_redirect_code is not None:
        redirect_code = _status(raw_redirect_code)
        if not 301 <= redirect_code <= 399:
            raise S3Error(
                "InvalidArgument",
                f"The provided HTTP redirect code ({raw_redirect_code[:8]}) is not valid. Valid "
                "codes are 3XX except 300.",
            )
    redirect = Redirect(
        host_name=stripped_child_text(redirect_element, "HostName") or None,
        protocol=_protocol(redirect_element),
        replace_key_prefix_with=replace_prefix,
        replace_key_with=replace_key,
        http_redirect_code=redirect_code,
    )
    if redirect == Redirect():
        raise S3Error("InvalidArgument", "Redirect cannot be empty")
    return RoutingRule(
        redirect=redirect, key_prefix_equals=prefix, http_error_code_returned_equals=error_code
    )


def _protocol(element: Element) -> str | None:
    protocol = stripped_child_text(element, "Protocol")
    if protocol is None:
        return None
    if protocol not in _PROTOCOLS:
        raise S3Error(
            "InvalidArgument",
            "Invalid protocol, protocol can be http or https. If not defined the protocol will "
            "be selected automatically.",
        )
    return protocol


def _status(raw: str) -> int:
    if not raw.isdigit() or len(raw) != 3:
        raise S3Error("MalformedXML")
    return int(raw)
