"""A clock that tests move by hand, for code that takes ``clock: Callable[[], float]``."""

from __future__ import annotations

from dataclasses import dataclass

START = 1_800_000_000.0  # 2027-01-15, a multiple of the 30 s TOTP step


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now
