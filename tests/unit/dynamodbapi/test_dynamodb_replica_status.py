"""Decision 0291: a global table's replica as AWS shows it while it is made — UpdateTable
answers the table ``UPDATING`` and the replica ``CREATING`` with its
``ReplicaStatusDescription`` and ``ReplicaStatusPercentProgress``; the new replica's table
``CREATING`` (its items not served yet), UpdateTable and DeleteTable of either refused with
AWS's ``ResourceInUseException``; the copy done in the background (its progress told batch by
batch), then both ``ACTIVE`` and the writes made meanwhile replicated; a copy left by a
stopped gateway finished by another's pass."""

from __future__ import annotations

from typing import Any

from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.model import Table
from andromede.dynamodb.service import DynamoService
from unit.dynamodbapi.test_dynamodb_global_tables import BERLIN, REGION, Two, two

__all__ = ["two"]  # the fixture, shared with decision 0265's tests

CREATE: dict[str, Any] = {"ReplicaUpdates": [{"Create": {"RegionName": BERLIN}}]}


async def begin(two: Two) -> dict[str, Any]:
    answer = await two.call(REGION, "UpdateTable", TableName="things", **CREATE)
    return dict(answer["TableDescription"])


async def test_a_replica_is_creating_then_active(two: Two) -> None:
    await two.world.table()
    await two.put(REGION, "a", "red")
    answered = await begin(two)
    assert answered["TableStatus"] == "UPDATING"
    assert answered["Replicas"] == [
        {
            "RegionName": BERLIN,
            "ReplicaStatus": "CREATING",
            "ReplicaStatusDescription": "Replica is being created: its initial copy of the "
            "table's items from eu-fr-1 is 0% done",
            "ReplicaStatusPercentProgress": "0",
            "ReplicaTableClassSummary": {"TableClass": "STANDARD"},
        }
    ]
    paris = (await two.call(REGION, "DescribeTable", TableName="things"))["Table"]
    assert paris["TableStatus"] == "UPDATING" and paris["Replicas"][0]["ReplicaStatus"] == (
        "CREATING"
    )
    berlin = (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]
    assert berlin["TableStatus"] == "CREATING"
    assert [r["RegionName"] for r in berlin["Replicas"]] == [REGION]
    # Nothing served from the replica until its copy is done.
    await two.fails(BERLIN, "GetItem", "ResourceNotFoundException", TableName="things",
                    Key={"pk": {"S": "a"}})  # fmt: skip
    # AWS refuses another change of either while it is made.
    message = await two.fails(REGION, "UpdateTable", "ResourceInUseException",
                              TableName="things", DeletionProtectionEnabled=True)  # fmt: skip
    assert message == (
        "Attempt to change a resource which is still in use: Table is being updated: things"
    )
    await two.fails(REGION, "UpdateTable", "ResourceInUseException", TableName="things",
                    ReplicaUpdates=[{"Delete": {"RegionName": BERLIN}}])  # fmt: skip
    message = await two.fails(BERLIN, "DeleteTable", "ResourceInUseException", TableName="things")
    assert message.endswith("Table is being created: things")
    await two.fails(REGION, "DeleteTable", "ResourceInUseException", TableName="things")
    # The source stays writable; a write made during the copy reaches the replica.
    await two.put(REGION, "b", "blue")
    await two.replicas.settled()
    for region, other in ((REGION, BERLIN), (BERLIN, REGION)):
        described = (await two.call(region, "DescribeTable", TableName="things"))["Table"]
        assert described["TableStatus"] == "ACTIVE"
        assert described["Replicas"] == [
            {
                "RegionName": other,
                "ReplicaStatus": "ACTIVE",
                "ReplicaTableClassSummary": {"TableClass": "STANDARD"},
            }
        ]
    await two.replicate()
    assert await two.item(BERLIN, "a") == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert await two.item(BERLIN, "b") == {"pk": {"S": "b"}, "colour": {"S": "blue"}}
    await two.call(REGION, "UpdateTable", TableName="things", DeletionProtectionEnabled=False)


async def test_the_copy_tells_its_progress_batch_by_batch(two: Two) -> None:
    await two.world.table()
    for number in range(250):
        await two.put(REGION, f"k{number:03}", "red")
    await begin(two)
    paris = two.replicas.service(REGION)
    told: list[tuple[tuple[str, int], ...]] = []
    change = paris.change_table

    async def watched(table: Table, **changes: object) -> Table:
        if "replica_progress" in changes:
            told.append(changes["replica_progress"])  # type: ignore[arg-type]
        return await change(table, **changes)

    paris.change_table = watched  # type: ignore[method-assign]
    await two.replicas.settled()
    # Three batches of 100: 40% and 80% told, then the copy done and the progress cleared.
    assert told == [((BERLIN, 40),), ((BERLIN, 80),), ()]
    berlin = (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]
    assert berlin["ItemCount"] == 250 and berlin["TableStatus"] == "ACTIVE"


async def test_a_copy_left_by_a_stopped_gateway_is_finished_by_another(two: Two) -> None:
    await two.world.table()
    await two.put(REGION, "a", "red")
    await begin(two)
    services: dict[str, DynamoService] = {
        REGION: two.replicas.service(REGION),
        BERLIN: two.replicas.service(BERLIN),
    }
    another = GlobalTables(services, two.replicas.declared, two.replication, "another", 60_000)
    # The first gateway's copy never ran (it stopped); the other's pass takes it up.
    await another.replicate_all()
    described = (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert await two.item(BERLIN, "a") == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    await two.replicas.settled()  # the first gateway, back: nothing left to do
    assert (await two.call(REGION, "DescribeTable", TableName="things"))["Table"][
        "TableStatus"
    ] == "ACTIVE"


async def test_a_creation_whose_replica_went_away_is_abandoned(two: Two) -> None:
    await two.world.table()
    await begin(two)
    berlin = two.replicas.service(BERLIN)
    await berlin.delete_table(two.world.tenant_id, "things")  # e.g. an operator's clean-up
    await two.replicas.settled()
    paris = await two.replicas.service(REGION).table(two.world.tenant_id, "things")
    assert paris.replicas == () and paris.replica_progress == ()
    assert await two.replication.members(two.world.tenant_id, "things") == {}
    described = (await two.call(REGION, "DescribeTable", TableName="things"))["Table"]
    assert described["TableStatus"] == "ACTIVE" and "Replicas" not in described
