"""What ``andromede serve`` imports before it serves, and how (decision 0347).

A fresh interpreter imports what the ``serve`` command imports, in that order (the console
script's module, then the serving modules imported late), and reports ``sys.modules`` and the
collector's state: a module made lazy that comes back at start-up through a new top-level
import, or a collector left paused, fails here rather than going unseen in the suite's time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import andromede

SRC = Path(andromede.__file__).parent.parent

# Imported on use, never by the start: each entry says who imports it and why it is not at start.
LAZY = {
    # The invoice and credit-note PDFs (fpdf2, and through it fontTools and its PDF/A
    # machinery): 0.2 s of every start, for a document a tenant downloads now and then (0347).
    "fpdf": "billing.invoice_pdf, imported by the PDF routes, pages and command",
    "fontTools": "fpdf2",
    "andromede.billing.invoice_pdf": "the PDF routes, pages and command",
    "andromede.billing.facturx_pdf": "billing.invoice_pdf",
    # QEMU's driver and what it imports (QMP, the NoCloud ISO, the tenant networks): a
    # hypervisor host's agent builds it; a gateway only dials the agent (0347).
    "andromede.hypervisor.qemu": "compute_adapters.hypervisor_host_driver, the agent's",
    "andromede.hypervisor.tenant_network": "the QEMU driver",
    "qemu": "the QEMU driver (qemu.qmp)",
    "pycdlib": "the QEMU driver's NoCloud seeds",
    # PostgreSQL's database (asyncpg), for a PostgreSQL URL only (0347).
    "andromede.db.postgres": "db.database.open_database and create_engine",
    "asyncpg": "db.postgres",
    # QR codes: IAM's CreateVirtualMFADevice and the console's MFA page draw one (0347).
    "qrcode": "iamapi.qr_png, console.pages_iam, on a device's enrolment",
    "PIL": "qrcode's image modules",
    "png": "qrcode's PNG image",
    # A dashboard text widget's Markdown: its parser is made by the first one shown (0347).
    "markdown_it": "console.markdown_text",
    # Decision 0115: the migrations replay, and a database at head is seen without Alembic.
    "alembic": "db.migrate, for a database behind the head",
    "mako": "Alembic",
    # Decision 0115: CRC32C, CRC64NVME and xxHash, which a client asks for by name.
    "awscrt": "storage.checksums, on a request that names one of them",
}

_PROBE = """
import gc, json, sys
import andromede.cli.main
after_main = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
# What `serve` imports late (cli.main's serve command), as it does it.
with andromede.cli.main._importing():
    import andromede.cli.serve
import andromede.cli.workers
import andromede.cli.worker_template
after_serve = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
modules = sorted(sys.modules)
# What the workers' template is forked with (the fork itself, and a fallback's fork server,
# stubbed: only the modules present at that moment are looked at).
from multiprocessing import forkserver
at_fork = []
andromede.cli.worker_template.fork_template = lambda: at_fork.extend(sys.modules)
forkserver.set_forkserver_preload = lambda names: None
forkserver.ensure_running = lambda: at_fork.extend(sys.modules)
andromede.cli.workers.start_worker_template()
print(json.dumps({
    "after_main": after_main,
    "after_serve": after_serve,
    "modules": modules,
    "at_fork": sorted(set(at_fork)),
}))
"""


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    """One fresh interpreter's import for the module's tests (some 4 s of CPU)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANDROMEDE_")},
        "PYTHONPATH": str(SRC),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        check=True,
        text=True,
        timeout=180,
        env=env,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_start_imports_none_of_the_lazy_modules(probe: dict[str, object]) -> None:
    modules = probe["modules"]
    assert isinstance(modules, list)
    imported = {
        name
        for name in LAZY
        if any(loaded == name or loaded.startswith(f"{name}.") for loaded in modules)
    }
    assert not imported, f"imported at start, meant to be imported on use: {sorted(imported)}"
    # The probe sees the application (a probe that imported nothing would pass the above).
    assert "andromede.app" in modules
    assert "andromede.api.routes_billing" in modules
    assert "andromede.console.pages_invoices" in modules


def test_the_collector_resumes_after_the_imports_with_them_frozen(
    probe: dict[str, object],
) -> None:
    after_main, after_serve = probe["after_main"], probe["after_serve"]
    assert isinstance(after_main, dict) and isinstance(after_serve, dict)
    assert after_main["enabled"] is True
    assert after_serve["enabled"] is True
    # The import's objects are out of the collector's reach: many, more after the serving
    # modules' import (an import made with the collector running freezes nothing).
    assert after_main["frozen"] > 50_000
    assert after_serve["frozen"] > after_main["frozen"]


def test_the_workers_template_is_forked_with_what_a_worker_imports_as_it_starts(
    probe: dict[str, object],
) -> None:
    # httpcore: each worker's first httpx client (the Route 53 health prober's, made as the
    # application starts) imported it, once per worker (decision 0421).
    at_fork = probe["at_fork"]
    assert isinstance(at_fork, list)
    for module in ("httpcore", "uvicorn.protocols.http.httptools_impl", "andromede.app"):
        assert module in at_fork
