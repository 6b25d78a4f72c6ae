"""The service factories: each context's services built from the settings, and joined.

``andromede.app``'s :class:`~andromede.app.Application` (the server) and ``andromede.cli`` (the
operator's command line) build the platform from these; one module per concern, each knowing
the contexts it joins, none knowing the ASGI application.
"""
