"""The region asks its witnesses to cosign its logs and serves the cosigned checkpoint
(decision 0122, increment 2), in process: a round submits every log's checkpoint to a real
witness (its HTTP interface over ASGI), keeps the cosignature it verified, continues from the
size kept — or from the size a witness says it holds —, and never keeps what a witness refuses;
``/cosigned-checkpoint`` answers the checkpoint at the size cosigned, its cosignatures with
it, which ``verify_cosignatures`` accepts; its read is the tenant's alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.app import audit_witnessing
from andromede.audit.cosignature import format_cosigner_key
from andromede.audit.note import (
    Checkpoint,
    format_verifier_key,
    open_note,
    parse_verifier_key,
    public_key_bytes,
)
from andromede.audit.store import MemoryAuditStore
from andromede.audit.verify import verify_cosignatures
from andromede.audit.witness import MemoryWitnessState, Witness, WitnessedHead
from andromede.audit.witness_app import witness_app
from andromede.audit.witnessing import WitnessEndpoint, Witnessing
from andromede.errors import ConfigurationError
from andromede.settings import Settings
from support.apiclient import ApiHarness, HttpxSigV4, api_harness
from unit.api.test_audit_trail_api import assert_problem, get, record


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


class Witnesses:
    """Witnesses of the harness's region, each served over ASGI at http://w<n>."""

    def __init__(self, api: ApiHarness, count: int) -> None:
        name, region_key = parse_verifier_key(api.trail.verifier_key)
        self.keys = [Ed25519PrivateKey.generate() for _ in range(count)]
        self.states = [MemoryWitnessState() for _ in range(count)]
        self.witnesses = [
            Witness(f"w.example/{n}", key, {name: region_key}, state)
            for n, (key, state) in enumerate(zip(self.keys, self.states, strict=True))
        ]
        self.apps = {f"w{n}": witness_app(w) for n, w in enumerate(self.witnesses)}
        self.down: set[str] = set()
        self.tried_while_down = 0

    def endpoints(self) -> list[WitnessEndpoint]:
        return [
            WitnessEndpoint(f"http://w{n}", w.name, public_key_bytes(k.public_key()))
            for n, (w, k) in enumerate(zip(self.witnesses, self.keys, strict=True))
        ]

    def vkeys(self) -> list[str]:
        return [
            format_cosigner_key(w.name, public_key_bytes(k.public_key()))
            for w, k in zip(self.witnesses, self.keys, strict=True)
        ]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            self.tried_while_down += 1
            raise httpx.ConnectError("the witness is away", request=request)
        transport = httpx.ASGITransport(app=self.apps[host])
        return await transport.handle_async_request(request)

    def round(self, api: ApiHarness) -> Witnessing:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return Witnessing(
            api.trail, api.audit_store, api.cosigned, self.endpoints(),
            interval=1, timeout=1, client=client,
        )  # fmt: skip


async def test_a_round_gets_every_log_cosigned_and_the_checkpoint_is_served(
    api: ApiHarness,
) -> None:
    tenant = api.admin_tenant_id
    for n in range(5):
        record(api, n, tenant)
    record(api, 99, None)  # the platform's log
    await api.audit.flush()
    witnesses = Witnesses(api, 2)
    witnessing = witnesses.round(api)
    async with api.as_admin() as admin:
        # Nothing cosigned yet: a problem, not a bare checkpoint.
        assert_problem(
            await admin.get("/api/v1/audit/logs/admin/cosigned-checkpoint"), 404, "not-cosigned"
        )
        assert await witnessing.run_once() == 4  # two logs, two witnesses
        assert await witnessing.run_once() == 0  # nothing new: nothing submitted
        served = await get(admin, "/logs/admin/cosigned-checkpoint")
        assert (served["size"], served["witnesses"]) == (5, ["w.example/0", "w.example/1"])
        found = verify_cosignatures(served["checkpoint"], witnesses.vkeys(), 2, now=1e12)
        assert [c.name for c in found] == ["w.example/0", "w.example/1"]
        name, region_key = parse_verifier_key(api.trail.verifier_key)
        origin = f"{name}/{tenant}"
        assert Checkpoint.parse(open_note(served["checkpoint"], origin, region_key)).size == 5

        # The log grows; one witness is away for a round: the other goes on from size 5.
        for n in range(5, 8):
            record(api, n, tenant)
        await api.audit.flush()
        witnesses.down.add("w1")
        assert await witnessing.run_once() == 1
        served = await get(admin, "/logs/admin/cosigned-checkpoint")
        # They disagree, one each: the larger size, with the one witness at it.
        assert (served["size"], served["witnesses"]) == (8, ["w.example/0"])
        witnesses.down.clear()
        assert await witnessing.run_once() == 1
        served = await get(admin, "/logs/admin/cosigned-checkpoint")
        assert (served["size"], served["witnesses"]) == (8, ["w.example/0", "w.example/1"])
        verify_cosignatures(served["checkpoint"], witnesses.vkeys(), 2, now=1e12)

    # Another tenant's root reads no cosigned checkpoint of this log.
    other = await api.identity.create_tenant("other")
    creds = Credentials(other.access_key_id, other.secret_access_key)
    async with api.client(HttpxSigV4(creds)) as stranger:
        answer = await stranger.get(f"/api/v1/audit/logs/{tenant}/cosigned-checkpoint")
        assert_problem(answer, 404, "no-such-log")


async def test_a_witness_that_lost_its_state_or_refuses_is_handled(api: ApiHarness) -> None:
    tenant = api.admin_tenant_id
    for n in range(4):
        record(api, n, tenant)
    await api.audit.flush()
    witnesses = Witnesses(api, 1)
    witnessing = witnesses.round(api)
    assert await witnessing.run_once() == 1
    # The witness's state is gone (a new witness under the same key): it answers 409 with
    # size 0, and the round goes on from there.
    name, region_key = parse_verifier_key(api.trail.verifier_key)
    fresh = Witness("w.example/0", witnesses.keys[0], {name: region_key}, MemoryWitnessState())
    witnesses.apps["w0"] = witness_app(fresh)
    record(api, 4, tenant)
    await api.audit.flush()
    assert await witnessing.run_once() == 1
    kept = await api.cosigned.latest(tenant)
    assert [c.size for c in kept] == [5]
    # A witness that holds a larger size than the log (another history): nothing kept, and
    # the cosigned checkpoint stays the one of before.
    bigger = MemoryWitnessState()
    liar = Witness("w.example/0", witnesses.keys[0], {name: region_key}, bigger)
    witnesses.apps["w0"] = witness_app(liar)
    bigger.update(f"{name}/{tenant}", lambda _: WitnessedHead(50, bytes(32)))
    record(api, 5, tenant)
    await api.audit.flush()
    assert await witnessing.run_once() == 0
    assert [c.size for c in await api.cosigned.latest(tenant)] == [5]


def test_a_gateway_refuses_a_witness_key_that_is_no_cosigner_key(tmp_path: Path) -> None:
    """The settings check the key's shape; the start parses it: a note key (type 0x01), the
    region's own for instance, is no witness's cosigner key."""
    note_key = format_verifier_key("w.example/1", bytes(32))
    settings = Settings(
        data_dir=tmp_path, audit_witnesses=[{"url": "https://w.example", "key": note_key}]
    )
    store = MemoryAuditStore()
    with pytest.raises(ConfigurationError, match=r"audit_witnesses: https://w\.example"):
        audit_witnessing(settings, None, None, store)  # type: ignore[arg-type]
    assert audit_witnessing(Settings(data_dir=tmp_path), None, None, store) is None  # type: ignore[arg-type]


async def test_a_witness_away_is_asked_once_a_round(api: ApiHarness) -> None:
    """A round does not wait on a witness that does not answer once per log: it is asked
    again the next round, and the other witnesses go on."""
    for n, tenant in enumerate((api.admin_tenant_id, None, api.admin_tenant_id)):
        record(api, n, tenant)
    other = await api.identity.create_tenant("other")
    record(api, 9, other.tenant.id)
    await api.audit.flush()
    witnesses = Witnesses(api, 2)
    witnesses.down.add("w1")
    witnessing = witnesses.round(api)
    assert await witnessing.run_once() == 3  # three logs, by the witness that answers
    assert witnesses.tried_while_down == 1
    witnesses.down.clear()
    assert await witnessing.run_once() == 3
