"""AuditService: the tamper-evident, hash-chained record of every action.

`canonical` makes payload bytes (secrets redacted), `chain` hashes and verifies entries,
`merkle` is the RFC 6962 tree and its proofs, `checkpoint` signs tree heads, `checkpointer`
publishes them, `verify` checks chain, tree and signatures, `log` is the service object over the
database, `appender` feeds it from the event bus, `servicer` speaks gRPC. Mounted by
agentcoord.services.host; docs/audit-format.md defines the encodings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    import grpc

    from agentcoord.services.context import ServiceContext

SERVICE_NAMES: tuple[str, ...] = ("agentcoord.v1.AuditService",)

# The service's modules are imported when it is mounted, not with the package: agent adapters in
# every task executor import `canonical` (secret redaction) from it, and should not pay for
# grpc servicers, the appender and the verifier in each fresh worker process.


def add_to_server(server: grpc.aio.Server, context: ServiceContext) -> None:
    """Mount AuditService over the shared database; its checkpoints are checked with the log's key."""
    from agentcoord.services.audit.checkpoint import AuditFiles, load_or_create_signing_key
    from agentcoord.services.audit.log import AuditLog
    from agentcoord.services.audit.servicer import AuditServicer
    from agentcoord.v1 import audit_pb2_grpc

    files = AuditFiles.under(context.config.state_dir)
    public_key = load_or_create_signing_key(files.signing_key).public_key()
    audit_log = AuditLog(context.db, public_key=public_key, checkpoint_dir=files.checkpoint_dir)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(audit_log), server)


async def run_background(context: ServiceContext, stop: asyncio.Event) -> None:
    """The audit appender: feeds the event bus into the log until `stop` (see appender)."""
    from agentcoord.services.audit.appender import run_background as run_appender

    await run_appender(context, stop)
