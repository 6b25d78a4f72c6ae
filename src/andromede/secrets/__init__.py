"""Secrets Manager's secrets (decision 0190)."""
