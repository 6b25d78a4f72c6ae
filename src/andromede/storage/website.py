"""A bucket's static-website configuration and the routing it asks of a website endpoint
(decision 0081).

S3's rules, which static sites and their tools rely on:
- either every request is redirected to another host (``RedirectAllRequestsTo``), or an index
  document suffix names what a "directory" (an empty key, or one ending in ``/``) serves, with
  an optional error document for 4XX answers and routing rules;
- routing rules are tried in order and the first whose condition holds redirects. A rule whose
  condition names an HTTP error code holds only once the object's lookup has failed with that
  code; the others (a key prefix, or no condition at all) hold before the lookup;
- a redirect keeps what it does not replace: the request's protocol, its host, its key.

The configuration is the owner's to set and is not secret (the website shows what it does).
It is stored as one JSON document in the bucket's configuration documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

__all__ = [
    "WEBSITE_DOCUMENT",
    "Redirect",
    "RedirectAll",
    "RoutingRule",
    "WebsiteConfiguration",
]

# The kind under which the configuration is stored among the bucket's documents.
WEBSITE_DOCUMENT: Final = "website"
_DEFAULT_REDIRECT_CODE: Final = 301
# What a redirect leaves unescaped in the key it puts in a Location (S3 keeps '/').
_LOCATION_SAFE: Final = "/~!$&'()*+,;=:@"


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where a routing rule sends the reader: each field absent keeps the request's."""

    host_name: str | None = None
    protocol: str | None = None  # "http" or "https"
    replace_key_prefix_with: str | None = None
    replace_key_with: str | None = None
    http_redirect_code: int | None = None  # 301 when absent

    def location(self, key: str, matched_prefix: str, scheme: str, host: str) -> str:
        if self.replace_key_with is not None:
            new_key = self.replace_key_with
        elif self.replace_key_prefix_with is not None:
            new_key = self.replace_key_prefix_with + key[len(matched_prefix) :]
        else:
            new_key = key
        return f"{self.protocol or scheme}://{self.host_name or host}/" + quote(
            new_key, safe=_LOCATION_SAFE
        )

    @property
    def status(self) -> int:
        return self.http_redirect_code or _DEFAULT_REDIRECT_CODE


@dataclass(frozen=True, slots=True)
class RoutingRule:
    redirect: Redirect
    key_prefix_equals: str | None = None
    http_error_code_returned_equals: int | None = None

    def holds_before_lookup(self, key: str) -> bool:
        return self.http_error_code_returned_equals is None and key.startswith(
            self.key_prefix_equals or ""
        )

    def holds_after_error(self, key: str, status: int) -> bool:
        return self.http_error_code_returned_equals == status and key.startswith(
            self.key_prefix_equals or ""
        )


@dataclass(frozen=True, slots=True)
class RedirectAll:
    host_name: str
    protocol: str | None = None

    def location(self, raw_path: str, scheme: str) -> str:
        return f"{self.protocol or scheme}://{self.host_name}{raw_path or '/'}"


@dataclass(frozen=True, slots=True)
class WebsiteConfiguration:
    """Either ``redirect_all``, or an ``index_suffix`` with the optional rest (the handler
    checks this when the configuration is put)."""

    index_suffix: str | None = None
    error_key: str | None = None
    redirect_all: RedirectAll | None = None
    routing_rules: tuple[RoutingRule, ...] = ()

    def rule_before_lookup(self, key: str) -> RoutingRule | None:
        """The first rule that redirects ``key`` before it is looked up."""
        for rule in self.routing_rules:
            if rule.holds_before_lookup(key):
                return rule
        return None

    def rule_after_error(self, key: str, status: int) -> RoutingRule | None:
        """The first rule that redirects ``key`` once its lookup failed with ``status``."""
        for rule in self.routing_rules:
            if rule.holds_after_error(key, status):
                return rule
        return None

    def to_text(self) -> str:
        data: dict[str, object] = {
            "index": self.index_suffix,
            "error": self.error_key,
            "rules": [
                {
                    "prefix": rule.key_prefix_equals,
                    "error_code": rule.http_error_code_returned_equals,
                    "host": rule.redirect.host_name,
                    "protocol": rule.redirect.protocol,
                    "replace_prefix": rule.redirect.replace_key_prefix_with,
                    "replace_key": rule.redirect.replace_key_with,
                    "code": rule.redirect.http_redirect_code,
                }
                for rule in self.routing_rules
            ],
        }
        if self.redirect_all is not None:
            data["redirect_all"] = {
                "host": self.redirect_all.host_name,
                "protocol": self.redirect_all.protocol,
            }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> WebsiteConfiguration:
        data = json.loads(text)
        redirect_all = data.get("redirect_all")
        return cls(
            index_suffix=data.get("index"),
            error_key=data.get("error"),
            redirect_all=(
                None
                if redirect_all is None
                else RedirectAll(redirect_all["host"], redirect_all.get("protocol"))
            ),
            routing_rules=tuple(
                RoutingRule(
                    redirect=Redirect(
                        host_name=rule.get("host"),
                        protocol=rule.get("protocol"),
                        replace_key_prefix_with=rule.get("replace_prefix"),
                        replace_key_with=rule.get("replace_key"),
                        http_redirect_code=rule.get("code"),
                    ),
                    key_prefix_equals=rule.get("prefix"),
                    http_error_code_returned_equals=rule.get("error_code"),
                )
                for rule in data.get("rules", ())
            ),
        )
