"""In-process tests hash console passwords with cheap argon2id parameters.

The product's hasher (``andromede.iam.login._HASHER``) uses RFC 9106's low-memory profile: 64 MiB
and three passes, 120 ms a hash on a CI core, which is its point. The tests that make a victim
account with a login profile (every IAM isolation case) or log in paid it hundreds of times. The
session fixture in tests/conftest.py swaps in these parameters for in-process tests; servers the
tests start keep the product's. ``PRODUCTION_HASHER`` keeps the product's own object, whose
parameters tests/unit/iam/test_login.py checks.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type

from andromede.iam import login

__all__ = ["CHEAP_HASHER", "PRODUCTION_HASHER"]

PRODUCTION_HASHER = login._HASHER
# Still argon2id: what is stored keeps the product's format, only the cost differs.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
