"""Witnesses of a real ``andromede serve``'s transparency log (decision 0122): an
``andromede witness serve`` process, run as an independent party would run it, cosigns the
checkpoints of the trails ``andromede audit cosign`` brings it — each with the consistency
proof from the size it last cosigned — and ``andromede audit verify --witness-key`` requires
its cosignature. A history rewritten and signed with the region's very key, the split view a
signature alone cannot exclude, gets no cosignature: the witness has seen the other one."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from andromede.audit.merkle import leaf_hash, root_hash
from andromede.audit.note import Checkpoint, parse_verifier_key
from andromede.audit.signing import FileLogSigningKey
from e2e.helpers import REGION
from e2e.test_audit_trail import act, andromede, download, verify, wait_for_requests
from support.launcher import run_command
from support.server import ANDROMEDE, ServerProcess, free_port, running_server

NAME = "witness.example.org/w1"


def witness_key(folder: Path) -> tuple[Path, Path]:
    """A witness key made by ``andromede witness key``: the private key file (0600) and the
    cosigner verifier key file."""
    key_file = folder / "witness.key"
    made = run_command(
        [str(ANDROMEDE), "witness", "key", "--name", NAME, "--key-file", str(key_file)],
        timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert key_file.stat().st_mode & 0o077 == 0  # the private key is the witness's alone
    vkey = folder / "witness.pub"
    vkey.write_text(made.stdout)
    return key_file, vkey


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA (trustme) and a certificate of it for 127.0.0.1: (CA file, chain, key)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, chain, key = folder / "ca.pem", folder / "witness-chain.pem", folder / "witness.key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    leaf.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.chmod(0o600)
    return ca_pem, chain, key


@contextmanager
def running_witness(
    key_file: Path,
    region_key: Path,
    port: int,
    folder: Path,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """``andromede witness serve`` for the region of ``region_key`` (over HTTPS with ``tls``,
    a certificate chain and its key): its URL."""
    tls_args = [] if tls is None else ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    process = subprocess.Popen(
        [str(ANDROMEDE), "witness", "serve", "--name", NAME, "--key-file", str(key_file),
         "--state", str(folder / "witness-state.json"),
         "--region-key", str(region_key), "--port", str(port), *tls_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the witness did not start"
                time.sleep(0.1)
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
def witness(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running witness of the server's region: its URL and its cosigner key file."""
    key_file, vkey = witness_key(tmp_path)
    region_key = server.data_dir / "audit-log.pub"
    with running_witness(key_file, region_key, free_port(), tmp_path) as url:
        yield url, vkey


@pytest.mark.slow
def test_a_witness_cosigns_what_extends_and_refuses_a_rewritten_history(
    server: ServerProcess, witness: tuple[str, Path], tmp_path: Path
) -> None:
    url, vkey = witness
    wait_for_requests(server, act(server))
    first = tmp_path / "first.json"
    download(server, first)
    # Without its cosignature, a trail does not pass a verifier that requires the witness.
    done = verify(server, first, "--witness-key", str(vkey))
    assert done.returncode == 1 and "fewer than the quorum" in done.stderr
    cosigned = andromede("cosign", str(first), "--witness", url)
    assert cosigned.returncode == 0, cosigned.stderr
    done = verify(server, first, "--witness-key", str(vkey))
    assert done.returncode == 0, done.stderr
    assert f"cosigned by {NAME}" in done.stdout
    # Two witnesses required, one cosigned: refused.
    other = tmp_path / "other.pub"
    other.write_text(vkey.read_text().replace("witness.example.org/w1", "w.example/none"))
    done = verify(server, first, "--witness-key", str(vkey), "--witness-key", str(other))
    assert done.returncode == 1

    # The log grew: the witness is given the proof from the size it holds (asked by 409).
    wait_for_requests(server, act(server))
    second = tmp_path / "second.json"
    download(server, second)
    assert (
        json.loads(second.read_text())["checkpoint"] != json.loads(first.read_text())["checkpoint"]
    )
    cosigned = andromede("cosign", str(second), "--witness", url)
    assert cosigned.returncode == 0, cosigned.stderr
    assert verify(server, second, "--witness-key", str(vkey)).returncode == 0

    # A history rewritten and signed with the region's own key (an operator holding it),
    # shown to someone else: the witness, which cosigned the real one, refuses it.
    content = json.loads(second.read_text())
    name, _ = parse_verifier_key((server.data_dir / "audit-log.pub").read_text())
    key = FileLogSigningKey.load_or_create(server.data_dir / "keys" / "audit-log.key", name)
    origin = f"{name}/{content['log']}"
    entries = list(content["entries"])
    entries[0] = entries[0].replace('"outcome":"success"', '"outcome":"failure"')
    entries.append(entries[-1])  # and one more, as a log that went on would have
    forged_root = root_hash([leaf_hash(e.encode()) for e in entries])
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({
        "format": content["format"], "log": content["log"], "entries": entries,
        "checkpoint": key.sign(Checkpoint(origin, len(entries), forged_root).text(), origin),
    }))  # fmt: skip
    assert verify(server, forged).returncode == 0  # alone, the signed rewrite looks fine...
    refused = andromede("cosign", str(forged), "--witness", url)
    assert refused.returncode == 1 and "422" in refused.stderr  # ...but no witness vouches
    done = verify(server, forged, "--witness-key", str(vkey))
    assert done.returncode == 1 and "fewer than the quorum" in done.stderr


@pytest.mark.slow
def test_the_region_has_its_witnesses_cosign_and_serves_the_cosigned_checkpoint(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Increment 2: a server configured with a witness (``audit_witnesses``, over HTTPS with
    ``audit_witness_ca_file``) submits every log's checkpoint to it each round;
    ``download --cosigned`` fetches the checkpoint it cosigned, which ``verify --witness-key``
    accepts without any ``cosign`` by the tenant."""
    folder = tmp_path_factory.mktemp("witnessed")
    key_file, vkey = witness_key(folder)
    port = free_port()
    # Over HTTPS, as a witness on another machine must be, its CA given to the region.
    ca, chain, tls_key = tls_files(folder)
    env = {
        "ANDROMEDE_AUDIT_WITNESSES": json.dumps(
            [{"url": f"https://127.0.0.1:{port}", "key": vkey.read_text().strip()}]
        ),
        "ANDROMEDE_AUDIT_WITNESS_INTERVAL": "0.5",
        "ANDROMEDE_AUDIT_WITNESS_CA_FILE": str(ca),
    }
    with running_server(folder / "data", extra_env=env) as server:
        # The witness learns the region's key from the running server (made at its start);
        # until it listens, the server's rounds find it away and try again.
        region_key = server.data_dir / "audit-log.pub"
        with running_witness(key_file, region_key, port, folder, (chain, tls_key)) as url:
            size = wait_for_requests(server, act(server))
            trail = folder / "cosigned.json"
            deadline = time.monotonic() + 60
            # Until the witness has cosigned every action: a checkpoint it cosigned before the
            # last of them landed is one it has since moved past, and a witness never goes back
            # (the tenant's own cosign below would be asked for a proof from a larger size).
            while True:
                done = andromede(
                    "download", "admin", "--cosigned", "--output", str(trail),
                    "--endpoint", server.api_endpoint,
                    "--credentials-file", str(server.credentials_file), "--region", REGION,
                )  # fmt: skip
                if done.returncode == 0 and len(json.loads(trail.read_text())["entries"]) >= size:
                    break
                assert time.monotonic() < deadline, done.stderr
                time.sleep(0.5)
            checked = verify(server, trail, "--witness-key", str(vkey))
            assert checked.returncode == 0, checked.stderr
            assert f"cosigned by {NAME}" in checked.stdout
            # The tenant's own cosign reaches it over HTTPS with its CA, and not without.
            again = andromede("cosign", str(trail), "--witness", url, "--ca-file", str(ca))
            assert again.returncode == 0, again.stderr
            assert andromede("cosign", str(trail), "--witness", url).returncode == 1
