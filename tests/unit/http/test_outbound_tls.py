"""The outbound TLS context: made at first use, except when it reads a file the operator named."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from andromede.http import outbound


def _count_contexts(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    made: list[ssl.SSLContext] = []
    real = outbound.tls_context

    def counting(ca_bundle: Path | None) -> ssl.SSLContext:
        made.append(real(ca_bundle))
        return made[-1]

    monkeypatch.setattr(outbound, "tls_context", counting)
    return made


def test_the_system_store_is_loaded_at_the_first_use_and_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _count_contexts(monkeypatch)
    prepared: list[ssl.SSLContext] = []
    on_demand = outbound.TlsContextOnDemand(None, prepared.append)
    assert made == []
    context = on_demand.get()
    assert on_demand.get() is context
    assert made == [context] and prepared == [context]
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_an_operators_file_is_read_at_once_and_a_bad_one_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = _count_contexts(monkeypatch)
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(trustme.CA().cert_pem.bytes())
    outbound.TlsContextOnDemand(bundle)
    assert len(made) == 1
    outbound.TlsContextOnDemand(None, lambda _context: None, operator_files=True)
    assert len(made) == 2

    bundle.write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        outbound.TlsContextOnDemand(bundle)
    with pytest.raises(FileNotFoundError):
        outbound.TlsContextOnDemand(tmp_path / "missing.pem")

    def load_missing_key(context: ssl.SSLContext) -> None:
        context.load_cert_chain(str(tmp_path / "missing-cert.pem"))

    with pytest.raises(FileNotFoundError):
        outbound.TlsContextOnDemand(None, load_missing_key, operator_files=True)


def test_contexts_of_the_system_store_alone_are_one_shared_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Decision 0325: one load of the system store a process, whoever asks.
    made = _count_contexts(monkeypatch)
    outbound.system_tls_context.cache_clear()
    try:
        first = outbound.TlsContextOnDemand(None).get()
        assert outbound.TlsContextOnDemand(None).get() is first
        assert outbound.system_tls_context() is first
        assert made == [first]
        assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname
        # Whoever changes its context gets its own, never the shared one.
        prepared = outbound.TlsContextOnDemand(None, lambda _context: None).get()
        bundle = tmp_path / "ca.pem"
        bundle.write_bytes(trustme.CA().cert_pem.bytes())
        bundled = outbound.TlsContextOnDemand(bundle).get()
        assert len({id(first), id(prepared), id(bundled)}) == 3
    finally:
        outbound.system_tls_context.cache_clear()
