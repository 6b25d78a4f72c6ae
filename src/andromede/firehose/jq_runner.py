"""Where dynamic partitioning's JQ queries run (decision 0270): a separate Python process
for each batch, so that a tenant's query can neither hold a gateway's event loop, nor run
past ``timeout`` seconds (the process is killed), nor take more than ``max_memory`` bytes
(its address space is bounded), nor read the gateway's environment (it starts with an empty
one); the queries are also checked for what they may not name (``partitioning``).

The process is given the query and the documents as JSON on its standard input and answers,
for each document, the query's first output or why there was none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from andromede.firehose.partitioning import Extracted

__all__ = ["QueryPolicy", "SubprocessQueryRunner"]

# The child's program: self-contained (the parent's sys.path given), so the child needs no
# environment at all.
_CHILD: Final = r"""
import base64, json, sys
job = json.loads(sys.stdin.buffer.read())
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (job["memory"], job["memory"]))
except (ImportError, ValueError, OSError):
    pass
sys.path[:0] = job["path"]
import jq
program = jq.compile(job["query"])
out = []
for raw in job["documents"]:
    try:
        value = program.input_value(json.loads(base64.b64decode(raw))).first()
        out.append({"value": value})
    except StopIteration:
        out.append({"error": "the query gave no output"})
    except (ValueError, UnicodeDecodeError) as exc:
        out.append({"error": str(exc)[:256]})
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True, slots=True)
class QueryPolicy:
    timeout: float = 10.0
    max_memory: int = 512 * 1024 * 1024


class SubprocessQueryRunner:
    """``firehose.partitioning.QueryRunner`` in a sandboxed child process."""

    def __init__(self, policy: QueryPolicy | None = None) -> None:
        self.policy = policy or QueryPolicy()

    async def run(self, query: str, documents: Sequence[bytes]) -> list[Extracted]:
        job = json.dumps(
            {
                "query": query,
                "documents": [base64.b64encode(d).decode() for d in documents],
                "memory": self.policy.max_memory,
                "path": [p for p in sys.path if p],
            }
        ).encode()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={},
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(process.communicate(job), self.policy.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return self._all_failed(documents, f"the query ran past {self.policy.timeout:g} s")
        try:
            answers = json.loads(out) if process.returncode == 0 else None
        except ValueError:
            answers = None
        if not isinstance(answers, list) or len(answers) != len(documents):
            return self._all_failed(documents, "the query could not be run on these records")
        return [
            Extracted(error=str(a["error"])) if "error" in a else Extracted(a.get("value"))
            for a in answers
        ]

    @staticmethod
    def _all_failed(documents: Sequence[bytes], why: str) -> list[Extracted]:
        return [Extracted(error=why) for _ in documents]
