"""AuditService over real gRPC: Append, ListEntries, Verify, errors, and the hosted appender."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from agentcoord.services.audit.chain import GENESIS_HASH
from agentcoord.services.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from agentcoord.services.context import ServiceContext
from agentcoord.services.host import start_services
from agentcoord.store.events import append_event
from agentcoord.v1 import audit_pb2, audit_pb2_grpc


@pytest.fixture
def audit_service(
    runner, make_db, fresh_database_url: str, base_config, tmp_path
) -> Iterator[audit_pb2_grpc.AuditServiceStub]:
    """AuditService (with its background appender) on a fresh database and its own state dir."""
    config = dataclasses.replace(base_config.with_database_url(fresh_database_url), state_dir=tmp_path)
    context = ServiceContext(config=config, db=make_db(fresh_database_url))
    hosted = runner.run(start_services(["audit"], context, host="127.0.0.1", port=0))
    channel = grpc.insecure_channel(f"127.0.0.1:{hosted.port}")
    yield audit_pb2_grpc.AuditServiceStub(channel)
    channel.close()
    runner.run(hosted.stop())


def _append(stub: audit_pb2_grpc.AuditServiceStub, event_id: str, payload_json: str) -> audit_pb2.AppendResponse:
    return stub.Append(
        audit_pb2.AppendRequest(event_id=event_id, actor="user:ana", action="review.accepted",
                                subject="mission/m1/task/t1", payload_json=payload_json),
        timeout=10,
    )


def test_append_list_and_verify(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    first = _append(audit_service, "review-1", '{"accepted": true, "api_key": "k", "cost_micro_usd": 12}')
    replay = _append(audit_service, "review-1", '{"something": "else"}')
    second = _append(audit_service, "review-2", "")

    assert first.appended and not replay.appended and second.appended
    assert first.entry.seq == 1 and second.entry.seq == 2
    assert first.entry.payload == b'{"accepted":true,"api_key":"[REDACTED]","cost_micro_usd":12}'
    assert first.entry.prev_hash == GENESIS_HASH
    assert second.entry.prev_hash == first.entry.entry_hash
    assert replay.entry == first.entry
    assert first.entry.recorded_at.seconds > 0

    listed = audit_service.ListEntries(audit_pb2.ListEntriesRequest(subject_prefix="mission/m1"), timeout=10)
    assert [e.event_id for e in listed.entries] == ["review-1", "review-2"]
    after = audit_service.ListEntries(audit_pb2.ListEntriesRequest(after_seq=1, page_size=5), timeout=10)
    assert [e.seq for e in after.entries] == [2]

    verified = audit_service.Verify(audit_pb2.VerifyRequest(), timeout=10)
    assert (verified.intact, verified.entries_checked, verified.first_bad_seq, verified.problem) == (True, 2, 0, "")


@pytest.mark.parametrize(
    ("payload_json", "message"),
    [
        ('{"cost": ', "payload_json: is not valid JSON"),
        ('{"cost_usd": 1.25}', "payload_json: non-integer number 1.25"),
        ("[1, 2]", "payload_json: must be a JSON object"),
        ('{"a": 1, "a": 2}', "payload_json: duplicate key"),
    ],
)
def test_malformed_payload_json_is_invalid_argument(
    audit_service: audit_pb2_grpc.AuditServiceStub, payload_json: str, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _append(audit_service, "req-bad", payload_json)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


def test_reserved_event_ids_and_bad_ranges_are_invalid_argument(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _append(audit_service, "event:1", "{}")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "event_id" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        audit_service.Verify(audit_pb2.VerifyRequest(from_seq=4, to_seq=2), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_verify_reports_tampering_over_grpc(audit_service: audit_pb2_grpc.AuditServiceStub, fresh_database_url: str) -> None:
    for i in range(3):
        _append(audit_service, f"req-{i}", f'{{"i": {i}}}')
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 2")
    verified = audit_service.Verify(audit_pb2.VerifyRequest(), timeout=10)
    assert (verified.intact, verified.first_bad_seq) == (False, 2)
    assert verified.problem == "changed (entry hash does not match its content)"


def test_the_hosted_appender_audits_bus_events(
    runner, audit_service: audit_pb2_grpc.AuditServiceStub, make_db, fresh_database_url: str
) -> None:
    db = make_db(fresh_database_url)

    async def write() -> int:
        async with db.transaction() as conn:
            return (await append_event(conn, topic="mission.created", actor="user:ana", payload={}, mission_id="m9")).event_id

    event_id = runner.run(write())
    deadline = time.monotonic() + 10
    entries: list[audit_pb2.AuditEntry] = []
    while time.monotonic() < deadline and not entries:
        entries = list(audit_service.ListEntries(audit_pb2.ListEntriesRequest(action="mission.created"),
                                                 timeout=10).entries)
        time.sleep(0.02)
    assert [(e.event_id, e.subject) for e in entries] == [(f"event:{event_id}", "mission/m9")]


def _request(event_id: str, **fields: str) -> audit_pb2.AppendRequest:
    values = {"actor": "agent:claude", "action": "tool.call", "subject": "mission/m1/task/t1", "payload_json": "{}"}
    return audit_pb2.AppendRequest(event_id=event_id, **{**values, **fields})


def test_append_stream_is_batched_and_idempotent(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    chunks = [
        audit_pb2.AppendStreamRequest(entries=[_request(f"s-{i}", payload_json=f'{{"i": {i}}}') for i in range(700)]),
        audit_pb2.AppendStreamRequest(entries=[_request(f"s-{i}") for i in range(700, 1500)] + [_request("s-3")]),
    ]
    first = audit_service.AppendStream(iter(chunks), timeout=30)
    assert first.appended_count == 1500 and len(first.entries) == 1501
    assert [r.entry.seq for r in first.entries[:3]] == [1, 2, 3]
    assert first.entries[-1].entry == first.entries[3].entry and not first.entries[-1].appended
    again = audit_service.AppendStream(iter(chunks[:1]), timeout=30)
    assert again.appended_count == 0 and [r.entry for r in again.entries] == [r.entry for r in first.entries[:700]]
    assert audit_service.GetEntry(audit_pb2.GetEntryRequest(seq=1500), timeout=10).entry.event_id == "s-1499"
    verified = audit_service.Verify(audit_pb2.VerifyRequest(), timeout=30)
    assert (verified.intact, verified.entries_checked, verified.tree_size) == (True, 1500, 1500)


def test_append_stream_and_get_entry_errors_map_to_status_codes(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    bad = audit_pb2.AppendStreamRequest(entries=[_request("ok"), _request("bad", payload_json="{\"x\": 1.5}")])
    with pytest.raises(grpc.RpcError) as caught:
        audit_service.AppendStream(iter([bad]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "entries[1].payload_json" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        audit_service.GetEntry(audit_pb2.GetEntryRequest(seq=1), timeout=10)  # nothing was appended
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_filters_by_mission_task_agent_action_and_time(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    audit_service.AppendStream(iter([audit_pb2.AppendStreamRequest(entries=[
        _request("a", subject="mission/m1/task/t1", actor="agent:claude", action="tool.call"),
        _request("b", subject="mission/m1/task/t2", actor="agent:codex", action="tool.call"),
        _request("c", subject="mission/m10", actor="agent:claude", action="mission.state"),
        _request("d", subject="task/t1", actor="user:ana", action="review.accepted"),
    ])]), timeout=10)

    def listed(**filters: object) -> list[str]:
        request = audit_pb2.ListEntriesRequest(**filters)
        return [e.event_id for e in audit_service.ListEntries(request, timeout=10).entries]

    assert listed(mission_id="m1") == ["a", "b"]  # not mission/m10
    assert listed(task_id="t1") == ["a", "d"]
    assert listed(agent="claude") == ["a", "c"]
    assert listed(action="tool.call", agent="codex") == ["b"]
    recorded = audit_service.GetEntry(audit_pb2.GetEntryRequest(seq=1), timeout=10).entry.recorded_at
    later = type(recorded)(seconds=recorded.seconds + 3600)
    assert listed(start_time=recorded) == ["a", "b", "c", "d"]
    assert listed(start_time=later) == []
    assert listed(end_time=recorded) == []
    with pytest.raises(grpc.RpcError) as caught:
        listed(start_time=later, end_time=recorded)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_checkpoints_and_proofs_over_grpc(audit_service: audit_pb2_grpc.AuditServiceStub) -> None:
    audit_service.AppendStream(iter([audit_pb2.AppendStreamRequest(entries=[_request(f"p-{i}") for i in range(6)])]),
                               timeout=10)
    deadline = time.monotonic() + 10
    checkpoint = None
    while checkpoint is None and time.monotonic() < deadline:  # the hosted checkpointer signs the first at once
        try:
            checkpoint = audit_service.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=10).checkpoint
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            time.sleep(0.05)
    assert checkpoint is not None and checkpoint.tree_size == 6
    assert checkpoint.note.startswith("agentcoord.audit.v1\n6\n")

    proof = audit_service.InclusionProof(audit_pb2.InclusionProofRequest(seq=4), timeout=10)
    assert (proof.leaf_index, proof.tree_size, proof.checkpoint.tree_size) == (3, 6, 6)
    assert verify_inclusion(3, 6, leaf_hash(proof.entry.entry_hash), list(proof.hashes), checkpoint.root_hash)
    old_root = audit_service.InclusionProof(audit_pb2.InclusionProofRequest(seq=1, tree_size=2), timeout=10).root_hash
    consistency = audit_service.ConsistencyProof(audit_pb2.ConsistencyProofRequest(old_size=2, new_size=6), timeout=10)
    assert verify_consistency(2, 6, old_root, checkpoint.root_hash, list(consistency.hashes))
    with pytest.raises(grpc.RpcError) as caught:
        audit_service.ConsistencyProof(audit_pb2.ConsistencyProofRequest(old_size=2, new_size=60), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    verified = audit_service.Verify(audit_pb2.VerifyRequest(), timeout=10)
    assert (verified.intact, verified.checkpoints_checked, verified.root_hash) == (True, 2, checkpoint.root_hash)
