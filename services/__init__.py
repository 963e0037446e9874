"""gRPC services, one package each (routing, cost, audit, mission), hosted by `host`.

Each service package exposes `SERVICE_NAMES` (full proto service names) and
`add_to_server(server, context)`; packages that consume the event bus also expose
`async def run_background(context, stop)`.
"""
