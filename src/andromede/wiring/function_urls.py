"""Lambda's function URLs wired (decision 0312): their configurations over the metadata
database, served at ``<url-id>.lambda-url.<region>.<lambda_url_domain>`` on the S3 listener
(its scheme and port), the five operations added to Lambda's actions (DeleteFunction and
DeleteAlias forgetting the URLs they leave), and the URLs' own app put into ``apis`` under
``lambda-url``, where ``api_routing`` sends their requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.functions.invoker import Invoker
from andromede.functions.service import FunctionsService
from andromede.functions.url_config_service import FunctionUrls, UrlEndpoint
from andromede.functions.url_configs_sql import SqlUrlConfigStore
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.lambdaapi.access_actions import ACCESS_ACTIONS
from andromede.lambdaapi.actions import FUNCTION_ACTIONS, Handler
from andromede.lambdaapi.url_actions import url_actions
from andromede.lambdaapi.url_front import FunctionUrlApp
from andromede.lambdaapi.url_host import FUNCTION_URLS
from andromede.settings import Settings

__all__ = ["function_urls", "url_endpoint"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def url_endpoint(settings: Settings) -> UrlEndpoint:
    """Where the URLs are served: the S3 listener's scheme and port, under the setting's
    domain."""
    return UrlEndpoint(
        domain=settings.lambda_url_domain.lower(),
        scheme="https" if settings.tls_cert is not None else "http",
        port=settings.s3_port,
    )


def function_urls(
    apis: MutableMapping[str, ASGIApp],
    actions: dict[str, Handler],
    settings: Settings,
    db: Database,
    service: FunctionsService,
    invoker: Invoker,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
) -> Callable[[str], Awaitable[int]]:
    """The URLs' operations added into ``actions`` (over the handlers already there), their
    app into ``apis``; what closing a tenant deletes of them."""
    store = SqlUrlConfigStore(db)
    urls = FunctionUrls(store, service, url_endpoint(settings))
    actions |= url_actions(urls, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **actions})
    apis[FUNCTION_URLS] = FunctionUrlApp(urls, invoker, identity, audit, settings, rate_limiter)
    return store.forget_tenant
