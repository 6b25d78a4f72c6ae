"""The management REST API (``/api/v1/…``, FastAPI, OpenAPI): tenants, quotas and regions, for
what AWS has no API. It has its own listener (``api_host``:``api_port``), apart from the S3
endpoint, so no path of it can collide with a bucket's.

Modules: ``app.py`` (the ASGI shell and the FastAPI app), ``auth.py`` (bearer tokens and SigV4),
``problems.py`` (RFC 9457 errors), ``schemas.py`` (bodies), ``routes_*.py`` (the endpoints).
"""
