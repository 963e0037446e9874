"""Hosting for the webhook endpoints (Claude Code hook, GitHub): one aiohttp server, many routes."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class WebhookServer:
    """A running aiohttp server; `url(path)` is where an endpoint of it is reached."""

    runner: web.AppRunner
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    async def stop(self) -> None:
        await self.runner.cleanup()


async def serve_webhooks(app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> WebhookServer:
    """Serve `app` on host:port (0 picks a free port) until `stop()`."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return WebhookServer(runner=runner, base_url=f"http://{host}:{bound}")
