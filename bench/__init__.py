"""Benchmark harness: runs the same S3 workloads against Andromède and peer object stores.

Modules: `sigv4` (request signing), `client` (raw-socket HTTP/1.1 keep-alive client),
`workloads` (workload specs, runner, latency statistics), `ceilings` (the machine's own
limits), `targets` and `swift` (starting and stopping the servers under test), `report`
(table and JSON), `run` (command line and orchestration).
"""

__all__: list[str] = []
