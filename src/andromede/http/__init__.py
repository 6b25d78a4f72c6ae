"""ASGI plumbing shared by the wire APIs: request id, access log, body streaming, dates."""
