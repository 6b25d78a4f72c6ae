"""The External Key Store (XKS) proxy: AWS's XKS Proxy API over the AES keys of a PKCS#11 HSM.

A customer runs it on premises, beside their HSM (``andromede xks-proxy serve``); AWS KMS, or
Andromède's own KMS, calls it over HTTPS for every use of a KMS key whose material stays in
that HSM. It speaks the published "External Key Store Proxy API Specification" (v1.0.2): four
POST operations under ``https://<server>[/<prefix>]/kms/xks/v1``, JSON bodies, SigV4 with
service ``kms-xks-proxy``. It imports nothing of the platform's services (an import-linter
contract says so), only the shared HTTP helpers and SigV4.

Modules, from the wire inwards (decision 0091):

- ``app``            the ASGI adapter: route, body, signature, JSON, errors, audit record;
- ``credentials``    SigV4 credential formats, their file, request verification;
- ``authorization``  optional per-key allow-lists over ``requestMetadata``;
- ``auditlog``       the hash-chained JSON-lines audit log;
- ``service``        the four operations over the token, bounded in time and concurrency;
- ``model``          pure: URIs, request validation, the GCM AAD, the CDIV;
- ``token``          every PKCS#11 call: keys, their status, AES-GCM inside the token;
- ``errors``         the spec's error table; ``settings``, ``watched``, ``assembly``: set-up.
"""
