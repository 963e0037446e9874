"""The one table from domain errors to gRPC status codes, applied by one interceptor.

Servicers raise domain errors; this interceptor turns them into statuses. Anything unexpected
becomes INTERNAL with a generic message and a logged incident id, never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from agentcoord.errors import (
    AgentCoordError,
    ConflictError,
    InvalidInputError,
    NoEligibleAgentError,
    NotFoundError,
    ServiceUnavailableError,
    StoreError,
)

log = logging.getLogger(__name__)

STATUS_FOR_ERROR: tuple[tuple[type[AgentCoordError], grpc.StatusCode], ...] = (
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ConflictError, grpc.StatusCode.FAILED_PRECONDITION),
    (NoEligibleAgentError, grpc.StatusCode.FAILED_PRECONDITION),
    (StoreError, grpc.StatusCode.UNAVAILABLE),
    (ServiceUnavailableError, grpc.StatusCode.UNAVAILABLE),
)


def status_for(error: AgentCoordError) -> grpc.StatusCode:
    """The status code a domain error maps to (INTERNAL for families not in the table)."""
    for family, code in STATUS_FOR_ERROR:
        if isinstance(error, family):
            return code
    return grpc.StatusCode.INTERNAL


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary, server-streaming and client-streaming handlers so domain errors become statuses."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner(request, context)
                except Exception as exc:  # noqa: BLE001 -- translated below; aborts re-raise untouched
                    await _abort_for(exc, context, method)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            inner_client_stream = handler.stream_unary

            async def stream_unary(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner_client_stream(request_iterator, context)
                except Exception as exc:  # noqa: BLE001 -- translated below
                    await _abort_for(exc, context, method)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    async for item in inner_stream(request, context):
                        yield item
                except Exception as exc:  # noqa: BLE001 -- translated below
                    await _abort_for(exc, context, method)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


async def _abort_for(exc: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    if isinstance(exc, AgentCoordError):
        await context.abort(status_for(exc), str(exc))
    incident = uuid.uuid4().hex[:12]
    log.exception("unexpected error in %s (incident %s)", method, incident)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (incident {incident})")
