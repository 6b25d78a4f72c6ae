"""A bucket's CORS configuration and how a browser's request is matched against it (decision
0077).

S3's rules, which browsers and the SDKs rely on:
- rules are tried in order, and the first one that matches answers;
- a rule matches when the request's ``Origin`` matches one of its origins, its method (a
  preflight's ``Access-Control-Request-Method``) is one of its methods, and, for a preflight,
  every header named in ``Access-Control-Request-Headers`` matches one of its headers;
- an origin or header pattern holds at most one ``*``, which stands for any run of characters;
  headers compare without case, origins with it.

The configuration is the owner's to set and is not secret: a browser is shown the rule that
matched. It is kept in its own table (``bucket_cors``), read only for requests that carry an
``Origin`` and for the CORS calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CORS_METHODS",
    "CorsConfiguration",
    "CorsRule",
    "pattern_matches",
]

CORS_METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})


def pattern_matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether ``value`` matches ``pattern``, whose one ``*`` (if any) stands for any run."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass(frozen=True, slots=True)
class CorsRule:
    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    rule_id: str | None = None

    def allows_origin(self, origin: str) -> bool:
        return any(pattern_matches(allowed, origin) for allowed in self.allowed_origins)

    def allows_headers(self, headers: Iterable[str]) -> bool:
        return all(
            any(
                pattern_matches(allowed, header, case_sensitive=False)
                for allowed in self.allowed_headers
            )
            for header in headers
        )

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.rule_id,
            "methods": list(self.allowed_methods),
            "origins": list(self.allowed_origins),
            "headers": list(self.allowed_headers),
            "expose": list(self.expose_headers),
            "max_age": self.max_age_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> CorsRule:
        def strings(name: str) -> tuple[str, ...]:
            value = data.get(name) or []
            if not isinstance(value, list):
                raise ValueError(f"a stored CORS rule's {name} is not a list")
            return tuple(str(item) for item in value)

        max_age = data.get("max_age")
        rule_id = data.get("id")
        return cls(
            allowed_methods=strings("methods"),
            allowed_origins=strings("origins"),
            allowed_headers=strings("headers"),
            expose_headers=strings("expose"),
            max_age_seconds=None if max_age is None else int(str(max_age)),
            rule_id=None if rule_id is None else str(rule_id),
        )


@dataclass(frozen=True, slots=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]

    def rule_for(
        self, origin: str, method: str, request_headers: Sequence[str] = ()
    ) -> CorsRule | None:
        """The first rule that lets ``origin`` use ``method`` with ``request_headers``."""
        for rule in self.rules:
            if (
                method in rule.allowed_methods
                and rule.allows_origin(origin)
                and rule.allows_headers(request_headers)
            ):
                return rule
        return None

    def to_text(self) -> str:
        return json.dumps([rule.to_json() for rule in self.rules], separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> CorsConfiguration:
        return cls(tuple(CorsRule.from_json(rule) for rule in json.loads(text)))
