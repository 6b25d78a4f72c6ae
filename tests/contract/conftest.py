"""Fixtures of the contract suites that need a real external component."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.softhsm import SoftHsm, softhsm_library


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A private SoftHSM2 (skipped when not installed; CI turns that skip into a failure)."""
    library = softhsm_library()
    if library is None:
        pytest.skip("SoftHSM2 is not installed (scripts/install-system-deps.sh installs it)")
    hsm = SoftHsm(tmp_path_factory.mktemp("softhsm"), library)
    previous = os.environ.get("SOFTHSM2_CONF")
    # Read by the library when python-pkcs11 first loads it in this process.
    os.environ["SOFTHSM2_CONF"] = str(hsm.config)
    yield hsm
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
