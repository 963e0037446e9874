"""AuditService over gRPC: translates protobuf to and from AuditLog's domain types.

payload_json is parsed here (strictly: integers only, no duplicate keys), because only the wire
format carries JSON as text; errors name the field "payload_json" (with the entry's index in
AppendStream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Any

import grpc

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.canonical import parse_json_object
from agentcoord.services.audit.chain import Problem, VerifyReport
from agentcoord.services.audit.log import AuditLog
from agentcoord.store.audit import AuditEntry, EntryFilter, StoredCheckpoint
from agentcoord.v1 import audit_pb2, audit_pb2_grpc

DEFAULT_PAGE_SIZE = 100
MAX_STREAM_ENTRIES = 100_000
"""Entries one AppendStream call may carry (they are answered in one response)."""

_PROBLEM_KIND = {
    None: audit_pb2.VERIFY_PROBLEM_UNSPECIFIED,
    Problem.CHANGED: audit_pb2.VERIFY_PROBLEM_CHANGED,
    Problem.BROKEN_LINK: audit_pb2.VERIFY_PROBLEM_BROKEN_LINK,
    Problem.MISSING: audit_pb2.VERIFY_PROBLEM_MISSING,
    Problem.REORDERED: audit_pb2.VERIFY_PROBLEM_REORDERED,
    Problem.BAD_SIGNATURE: audit_pb2.VERIFY_PROBLEM_BAD_SIGNATURE,
    Problem.ROOT_MISMATCH: audit_pb2.VERIFY_PROBLEM_ROOT_MISMATCH,
    Problem.ROLLBACK: audit_pb2.VERIFY_PROBLEM_ROLLBACK,
}


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """The grpc.aio servicer of agentcoord.v1.AuditService."""

    def __init__(self, audit_log: AuditLog) -> None:
        self._log = audit_log

    async def Append(
        self, request: audit_pb2.AppendRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.AppendResponse:
        payload = parse_json_object(request.payload_json, field="payload_json")
        entry, appended = await self._log.append(
            request.event_id, actor=request.actor, action=request.action, subject=request.subject, payload=payload
        )
        return audit_pb2.AppendResponse(entry=entry_message(entry), appended=appended)

    async def AppendStream(
        self, request_iterator: AsyncIterator[audit_pb2.AppendStreamRequest], context: grpc.aio.ServicerContext
    ) -> audit_pb2.AppendStreamResponse:
        requests: list[tuple[str, str, str, str, Mapping[str, Any]]] = []
        async for chunk in request_iterator:
            for item in chunk.entries:
                field = f"entries[{len(requests)}].payload_json"
                payload = parse_json_object(item.payload_json, field=field)
                requests.append((item.event_id, item.actor, item.action, item.subject, payload))
            if len(requests) > MAX_STREAM_ENTRIES:
                raise InvalidInputError(f"at most {MAX_STREAM_ENTRIES} entries per stream", field="entries")
        results = await self._log.append_many(requests)
        return audit_pb2.AppendStreamResponse(
            entries=[audit_pb2.AppendResponse(entry=entry_message(e), appended=new) for e, new in results],
            appended_count=sum(new for _, new in results),
        )

    async def GetEntry(
        self, request: audit_pb2.GetEntryRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetEntryResponse:
        return audit_pb2.GetEntryResponse(entry=entry_message(await self._log.get_entry(request.seq)))

    async def ListEntries(
        self, request: audit_pb2.ListEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListEntriesResponse:
        where = EntryFilter(
            subject_prefix=request.subject_prefix,
            mission_id=request.mission_id,
            task_id=request.task_id,
            agent=request.agent,
            action=request.action,
            since=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            until=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
        )
        entries = await self._log.list_entries(
            after_seq=request.after_seq, page_size=request.page_size or DEFAULT_PAGE_SIZE, where=where
        )
        return audit_pb2.ListEntriesResponse(entries=[entry_message(e) for e in entries])

    async def Verify(
        self, request: audit_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyResponse:
        return verify_message(await self._log.verify(request.from_seq, request.to_seq))

    async def GetCheckpoint(
        self, request: audit_pb2.GetCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetCheckpointResponse:
        return audit_pb2.GetCheckpointResponse(checkpoint=checkpoint_message(await self._log.checkpoint(request.tree_size)))

    async def InclusionProof(
        self, request: audit_pb2.InclusionProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.InclusionProofResponse:
        proof = await self._log.inclusion_proof(request.seq, request.tree_size)
        response = audit_pb2.InclusionProofResponse(
            entry=entry_message(proof.entry), leaf_index=proof.entry.seq - 1, tree_size=proof.tree_size,
            root_hash=proof.root_hash, hashes=proof.hashes,
        )
        if proof.checkpoint is not None:
            response.checkpoint.CopyFrom(checkpoint_message(proof.checkpoint))
        return response

    async def ConsistencyProof(
        self, request: audit_pb2.ConsistencyProofRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ConsistencyProofResponse:
        hashes = await self._log.consistency_proof(request.old_size, request.new_size)
        return audit_pb2.ConsistencyProofResponse(hashes=hashes)


def entry_message(entry: AuditEntry) -> audit_pb2.AuditEntry:
    """The wire form of an audit entry (payload stays the exact hashed bytes)."""
    message = audit_pb2.AuditEntry(
        seq=entry.seq,
        event_id=entry.event_id,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
        entry_hash=entry.entry_hash,
    )
    message.recorded_at.FromDatetime(entry.recorded_at)
    return message


def checkpoint_message(checkpoint: StoredCheckpoint) -> audit_pb2.Checkpoint:
    """The wire form of a signed checkpoint."""
    message = audit_pb2.Checkpoint(tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash, note=checkpoint.note)
    message.signed_at.FromDatetime(checkpoint.signed_at)
    return message


def verify_message(report: VerifyReport) -> audit_pb2.VerifyResponse:
    """The wire form of a verification report."""
    return audit_pb2.VerifyResponse(
        intact=report.intact,
        entries_checked=report.entries_checked,
        first_bad_seq=report.first_bad_seq,
        problem=f"{report.problem.value} ({report.detail})" if report.problem else "",
        problem_kind=_PROBLEM_KIND[report.problem],
        tree_size=report.tree_size,
        root_hash=report.root_hash,
        checkpoints_checked=report.checkpoints_checked,
    )
