"""Andromède: a sovereign cloud platform (S3-compatible object storage first)."""

__version__ = "0.1.0"
