"""Key management: the key hierarchy, envelope encryption of objects, root-key providers.

``service.py`` (:class:`~andromede.kms.service.KeyService`) is the one entry other contexts use.
Inside: ``chunks.py`` (the encrypted blob format), ``model.py`` (tenant key rings, wrapped data
keys), ``providers.py`` (the ``RootKeyProvider`` protocol) with ``keyfile.py`` (local key file)
and ``hsm.py`` (PKCS#11) beside it, ``cache.py`` (unwrapped data keys), ``errors.py``.
"""
