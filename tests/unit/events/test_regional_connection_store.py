"""Decision 0400: one Region's view of the connections' store over the in-memory twin —
another Region's connections and API destinations kept under ``~<region>~<name>``, handed
back under their own names and Region (ARNs of that Region), listed in their Region only,
a missing one named in the caller's words, a closed account forgotten once."""

from __future__ import annotations

import pytest

from andromede.events.connection_model import ApiDestination, Connection
from andromede.events.connection_store import MemoryConnectionStore
from andromede.events.errors import ResourceNotFound
from andromede.events.regional_connection_store import RegionalConnectionStore

HOME = "eu-fr-1"
OTHER = "eu-de-1"
TENANT = "123456789012"


def _connection(region: str) -> Connection:
    return Connection(TENANT, region, "c", f"uuid-{region}", "BASIC", {"k": region})


async def test_each_region_sees_its_own() -> None:
    whole = MemoryConnectionStore()
    views = {r: RegionalConnectionStore(whole, r, HOME) for r in (HOME, OTHER)}
    for region, view in views.items():
        await view.create_connection(_connection(region), limit=10)
        connection = await view.get_connection(TENANT, "c")
        assert connection is not None
        assert connection.arn == f"arn:aws:events:{region}:{TENANT}:connection/c/uuid-{region}"
        destination = ApiDestination(
            TENANT, region, "d", f"d-{region}", "c", connection.arn, "https://x.example", "POST"
        )
        await view.create_destination(destination, limit=10)
    # Kept apart in the one store: the other Region's under its prefix.
    stored = await whole.list_connections(TENANT, prefix="", state=None, after="", limit=10)
    assert [c.name for c in stored] == ["c", f"~{OTHER}~c"]
    for region, view in views.items():
        listed = await view.list_connections(TENANT, prefix="", state=None, after="", limit=10)
        assert [(c.name, c.region, c.auth) for c in listed] == [("c", region, None)]
        (destination,) = await view.list_destinations(
            TENANT, prefix="", connection_arn=None, after="", limit=10
        )
        assert (destination.name, destination.connection_name) == ("d", "c")
        assert destination.arn == f"arn:aws:events:{region}:{TENANT}:api-destination/d/d-{region}"
        assert destination.connection_arn.startswith(f"arn:aws:events:{region}:")
        changed = await view.change_connection(
            TENANT, "c", lambda held: held.with_auth({"k": "new"})
        )
        assert (changed.name, changed.region, changed.auth) == ("c", region, {"k": "new"})
    other = views[OTHER]
    with pytest.raises(ResourceNotFound) as missing:
        await other.delete_destination(TENANT, "nope")
    assert "~" not in str(missing.value)
    await other.delete_destination(TENANT, "d")
    deleted = await other.delete_connection(TENANT, "c")
    assert (deleted.name, deleted.region) == ("c", OTHER)
    assert await views[HOME].get_connection(TENANT, "c") is not None
    # Only the default Region's view forgets the account (every Region's rows).
    await other.create_connection(_connection(OTHER), limit=10)
    assert await other.forget_tenant(TENANT) == 0
    assert await views[HOME].forget_tenant(TENANT) == 2
    assert await other.get_connection(TENANT, "c") is None
