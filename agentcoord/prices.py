"""The versioned price table: what a model's tokens cost, and since when.

Each model has one or more price versions, each effective from a UTC date or time until the
next one, in US dollars per million tokens for input, output, cache-read and cache-write
tokens. Usage is priced at the version in effect when it ended, so a price change in the middle
of a reporting period prices each event at its own rate. The YAML is validated when loaded;
errors name the file, line and field.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path

from agentcoord.errors import InvalidInputError
from agentcoord.money import usd_to_micro_usd
from agentcoord.yamlsource import load_yaml_file, with_line

PRICE_FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
)
_TOKENS_PER_MTOK = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    """One price version of a model, in micro-dollars per million tokens."""

    effective_from: datetime
    input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int
    cache_read_micro_usd_per_mtok: int
    cache_write_micro_usd_per_mtok: int

    def cost_micro_usd(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> int:
        """Price the tokens (each kind counted once), rounded half-up to a micro-dollar."""
        total = (
            input_tokens * self.input_micro_usd_per_mtok
            + output_tokens * self.output_micro_usd_per_mtok
            + cache_read_tokens * self.cache_read_micro_usd_per_mtok
            + cache_write_tokens * self.cache_write_micro_usd_per_mtok
        )
        return (total + _TOKENS_PER_MTOK // 2) // _TOKENS_PER_MTOK


@dataclass(frozen=True)
class PriceTable:
    """Price versions per model, each list sorted by `effective_from`."""

    versions: Mapping[str, tuple[ModelPrice, ...]]

    @property
    def models(self) -> tuple[str, ...]:
        """The priced models, sorted."""
        return tuple(sorted(self.versions))

    def price_at(self, model: str, at: datetime) -> ModelPrice:
        """The version of `model` in effect at `at`.

        Raises InvalidInputError (field `model`) for a model not in the table, listing the known
        ones, and for a time before the model's first price.
        """
        versions = self.versions.get(model)
        if versions is None:
            raise InvalidInputError(
                f"unknown model {model!r}; priced models: {', '.join(self.models)}", field="model"
            )
        index = bisect.bisect_right([v.effective_from for v in versions], at) - 1
        if index < 0:
            raise InvalidInputError(
                f"model {model!r} has no price before {versions[0].effective_from.isoformat()}",
                field="model",
            )
        return versions[index]


def load_price_table(path: Path) -> PriceTable:
    """Read and validate a price table YAML file (see agentcoord/defaults/prices.yaml)."""
    data, lines = load_yaml_file(path)
    try:
        return _price_table(data, source=str(path))
    except InvalidInputError as exc:
        raise with_line(exc, lines) from None


def bundled_price_table() -> PriceTable:
    """The price table shipped with AgentCoordinator (prices of the bundled agents' models)."""
    return load_price_table(Path(str(resources.files("agentcoord") / "defaults" / "prices.yaml")))


def _price_table(data: object, *, source: str) -> PriceTable:
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping) or not models:
        raise InvalidInputError("must contain a non-empty 'models' mapping", source=source, field="models")
    versions: dict[str, tuple[ModelPrice, ...]] = {}
    for model, entries in models.items():
        path = f"models.{model}"
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError("a model name must be a non-empty string", source=source, field=path)
        if not isinstance(entries, list) or not entries:
            raise InvalidInputError("expected a non-empty list of price versions", source=source, field=path)
        parsed = [_version(entry, source=source, path=f"{path}[{i}]") for i, entry in enumerate(entries)]
        for i in range(1, len(parsed)):
            if parsed[i].effective_from <= parsed[i - 1].effective_from:
                raise InvalidInputError(
                    "effective_from dates must increase from one version to the next",
                    source=source,
                    field=f"{path}[{i}].effective_from",
                )
        versions[model] = tuple(parsed)
    return PriceTable(versions=versions)


def _version(entry: object, *, source: str, path: str) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise InvalidInputError("expected a mapping", source=source, field=path)
    unknown = sorted(set(entry) - {"effective_from", *PRICE_FIELDS})
    if unknown:
        raise InvalidInputError(
            f"unknown field; expected effective_from, {', '.join(PRICE_FIELDS)}",
            source=source,
            field=f"{path}.{unknown[0]}",
        )
    prices: list[int] = []
    for name in PRICE_FIELDS:
        if name not in entry:
            raise InvalidInputError("is required", source=source, field=f"{path}.{name}")
        try:
            prices.append(usd_to_micro_usd(entry[name]))
        except ValueError as exc:
            raise InvalidInputError(str(exc), source=source, field=f"{path}.{name}") from None
    return ModelPrice(_effective_from(entry.get("effective_from"), source, f"{path}.effective_from"), *prices)


def _effective_from(value: object, source: str, path: str) -> datetime:
    """A UTC date (midnight) or a time with a zone, as YAML or ISO text writes it."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(
                f"{value!r} is not an ISO date (YYYY-MM-DD) or time", source=source, field=path
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError("a time must carry a time zone", source=source, field=path)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise InvalidInputError("is required: an ISO date (YYYY-MM-DD)", source=source, field=path)
