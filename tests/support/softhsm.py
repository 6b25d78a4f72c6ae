"""A private SoftHSM2 for tests: its own config and token directory, fresh tokens on demand.

SoftHSM2 reads ``SOFTHSM2_CONF`` once, when the PKCS#11 library is initialised, and
python-pkcs11 loads one library per process; so a test session (one per xdist worker) gets one
config, set before the first load, and each test gets a newly initialised token in it. A token
made after the library was initialised is seen once the library re-initialises (which closes
the sessions of earlier tests, all finished by then).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11

LIBRARY_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def softhsm_library() -> str | None:
    """Path of libsofthsm2.so when SoftHSM2 and its tool are installed, else None."""
    if shutil.which("softhsm2-util") is None:
        return None
    return next((path for path in LIBRARY_CANDIDATES if Path(path).is_file()), None)


@dataclass(frozen=True)
class SoftHsmToken:
    library: str
    label: str
    pin: str
    so_pin: str


class SoftHsm:
    """One SoftHSM2 configuration under ``root``; ``new_token()`` initialises a fresh token."""

    def __init__(self, root: Path, library: str) -> None:
        self.library = library
        self.config = root / "softhsm2.conf"
        tokens = root / "tokens"
        tokens.mkdir(parents=True)
        self.config.write_text(
            f"directories.tokendir = {tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
        )

    def new_token(self) -> SoftHsmToken:
        token = SoftHsmToken(
            library=self.library,
            label=f"andromede-test-{secrets.token_hex(4)}",
            pin=secrets.token_hex(8),
            so_pin=secrets.token_hex(8),
        )
        subprocess.run(
            [
                "softhsm2-util", "--init-token", "--free",
                "--label", token.label, "--pin", token.pin, "--so-pin", token.so_pin,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.config)},
        )  # fmt: skip
        pkcs11.lib(self.library).reinitialize()
        return token
