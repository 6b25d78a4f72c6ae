"""The web console (decision 0111): server-rendered pages over the same services the wire APIs
serve, for a tenant's users who log in with a console password.

- ``app``: the ASGI app, its strict headers, its body bound and its routes;
- ``session``: the session cookie, the CSRF token derived from it, the login form's token;
- ``i18n``: the French and English catalogues and the choice between them;
- ``wire``: S3 and KMS calls made in process as the logged-in principal, so that S3's and
  KMS's own authorisation (IAM policies, bucket policies, ownership) answers them;
- ``pages_session`` (sign in and out, the language switch), ``pages_storage`` (buckets and
  objects), ``pages_keys`` (KMS keys), ``pages_account`` (the tenant root's audit trail,
  operator access requests and usage): the pages.
"""
