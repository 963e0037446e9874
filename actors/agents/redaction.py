"""Redaction of an agent run's secrets before anything it printed is stored or logged.

Two layers: the values of the run's secret-named environment variables (an API key the CLI was
given is removed wherever it shows up, whatever surrounds it), then the audit log's own redaction
of secret-named keys and secret-shaped strings. Long strings are cut, so one event stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agentcoord.services.audit.canonical import REDACTED, is_secret_key, redact

MAX_TEXT_CHARS = 4000
"""Longest string kept in an event payload, summary or error (the rest is cut, and says so)."""


class Scrubber:
    """Redacts secrets (the run's secret-named env values, secret-shaped strings) and bounds text."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._secrets = sorted(
            {value for key, value in env.items() if is_secret_key(key) and len(value) >= 6}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        cleaned: str = redact(value)
        if len(cleaned) > MAX_TEXT_CHARS:
            cleaned = f"{cleaned[:MAX_TEXT_CHARS]}…[{len(cleaned) - MAX_TEXT_CHARS} more characters cut]"
        return cleaned

    def value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): REDACTED if is_secret_key(str(k)) else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Decimal):
            return str(value)
        return value
