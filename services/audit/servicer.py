"""AuditService over gRPC: translates protobuf to and from AuditLog's domain types.

payload_json is parsed here (strictly: integers only, no duplicate keys), because only the wire
format carries JSON as text; errors name the field "payload_json".
"""

from __future__ import annotations

import grpc

from agentcoord.services.audit.canonical import parse_json_object
from agentcoord.services.audit.log import AuditLog
from agentcoord.store.audit import AuditEntry
from agentcoord.v1 import audit_pb2, audit_pb2_grpc

DEFAULT_PAGE_SIZE = 100


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

    async def ListEntries(
        self, request: audit_pb2.ListEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListEntriesResponse:
        entries = await self._log.list_entries(
            after_seq=request.after_seq,
            page_size=request.page_size or DEFAULT_PAGE_SIZE,
            subject_prefix=request.subject_prefix,
            action=request.action,
        )
        return audit_pb2.ListEntriesResponse(entries=[entry_message(e) for e in entries])

    async def Verify(
        self, request: audit_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyResponse:
        report = await self._log.verify(request.from_seq, request.to_seq)
        problem = f"{report.problem.value} ({report.detail})" if report.problem else ""
        return audit_pb2.VerifyResponse(
            intact=report.intact,
            entries_checked=report.entries_checked,
            first_bad_seq=report.first_bad_seq,
            problem=problem,
        )


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
