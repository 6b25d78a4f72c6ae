"""Tests of the benchmark harness's own parts (signing, HTTP client, statistics)."""
