"""Object storage: buckets, objects, multipart uploads, blob backends. Entry: ``service.py``."""
