"""Declarative policy: YAML rules that allow, deny or require review of an agent's action.

Deny overrides require_review, which overrides allow; an action no rule matches gets the
policy's default effect. Every decision carries the ids of the rules that made it, so the
audit trail says not only "denied" but "denied by no-production-deploys".
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentcoord.errors import InvalidInputError
from agentcoord.yamlsource import load_yaml_file, with_line


class Effect(enum.Enum):
    """What a rule (or the policy's default) says about an action."""

    ALLOW = "allow"
    """The action may run."""
    REQUIRE_REVIEW = "require_review"
    """The action may run, but its result counts only after a review."""
    DENY = "deny"
    """The action must not run."""


@dataclass(frozen=True)
class ActionRequest:
    """The action an agent is about to take, in the terms rules match on."""

    kind: str
    environment: str = ""
    paths: tuple[str, ...] = ()
    command: str = ""
    agent: str = ""
    mission_id: str = ""
    task_id: str = ""


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold; within one condition any listed value may match."""

    kinds: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    path_globs: tuple[str, ...] = ()
    command_patterns: tuple[re.Pattern[str], ...] = ()

    def match(self, request: ActionRequest) -> bool:
        if self.kinds and request.kind not in self.kinds:
            return False
        if self.environments and request.environment not in self.environments:
            return False
        if self.agents and request.agent not in self.agents:
            return False
        if self.path_globs and not any(
            fnmatch.fnmatchcase(path, glob) for path in request.paths for glob in self.path_globs
        ):
            return False
        return not self.command_patterns or any(p.search(request.command) for p in self.command_patterns)


@dataclass(frozen=True)
class Rule:
    """One named rule."""

    id: str
    description: str
    effect: Effect
    when: Conditions


@dataclass(frozen=True)
class Decision:
    """The verdict on one action and the rules behind it."""

    effect: Effect
    rule_ids: tuple[str, ...]
    reason: str

    def as_payload(self) -> dict[str, Any]:
        return {"effect": self.effect.value, "rule_ids": list(self.rule_ids), "reason": self.reason}


@dataclass(frozen=True)
class Policy:
    """A validated, versioned set of rules."""

    version: int
    default_effect: Effect
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def decide(self, request: ActionRequest) -> Decision:
        """Apply every rule; deny beats require_review beats allow; else the default effect."""
        matched = [rule for rule in self.rules if rule.when.match(request)]
        for effect in (Effect.DENY, Effect.REQUIRE_REVIEW, Effect.ALLOW):
            hits = [rule for rule in matched if rule.effect is effect]
            if hits:
                why = "; ".join(f"{rule.id}: {rule.description}" for rule in hits)
                return Decision(effect, tuple(rule.id for rule in hits), f"{effect.value} by {why}")
        return Decision(self.default_effect, (), f"no rule matched; default {self.default_effect.value}")


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; errors name the file, line and field."""
    data, lines = load_yaml_file(path)
    try:
        return parse_policy(data, source=str(path))
    except InvalidInputError as error:
        raise with_line(error, lines) from None


def parse_policy(data: object, *, source: str) -> Policy:
    """Validate a decoded policy document."""
    if not isinstance(data, Mapping):
        raise InvalidInputError("expected a mapping with version, default_effect and rules", source=source)
    version = data.get("version")
    if version != 1:
        raise InvalidInputError(f"unsupported policy version {version!r}; expected 1", source=source, field="version")
    default = _effect(data.get("default_effect", "deny"), source=source, path="default_effect")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise InvalidInputError("expected a list of rules", source=source, field="rules")
    rules = tuple(_rule(raw, source=source, path=f"rules[{i}]") for i, raw in enumerate(raw_rules))
    ids = [rule.id for rule in rules]
    for index, rule_id in enumerate(ids):
        if rule_id in ids[:index]:
            raise InvalidInputError(f"duplicate rule id {rule_id!r}", source=source, field=f"rules[{index}].id")
    return Policy(version=1, default_effect=default, rules=rules)


_CONDITION_KEYS = frozenset({"action", "environment", "agent", "paths", "command"})


def _rule(raw: object, *, source: str, path: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("expected a mapping", source=source, field=path)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise InvalidInputError("is required and must be a non-empty string", source=source, field=f"{path}.id")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise InvalidInputError("expected a string", source=source, field=f"{path}.description")
    when = raw.get("when", {})
    if not isinstance(when, Mapping):
        raise InvalidInputError("expected a mapping of conditions", source=source, field=f"{path}.when")
    unknown = sorted(str(k) for k in when if k not in _CONDITION_KEYS)
    if unknown:
        raise InvalidInputError(
            f"unknown condition; allowed: {', '.join(sorted(_CONDITION_KEYS))}", source=source, field=f"{path}.when.{unknown[0]}"
        )
    commands = _strings(when.get("command", []), source=source, path=f"{path}.when.command")
    patterns = []
    for index, pattern in enumerate(commands):
        try:
            patterns.append(re.compile(pattern))
        except re.error as exc:
            raise InvalidInputError(f"invalid regular expression: {exc}", source=source, field=f"{path}.when.command[{index}]") from exc
    return Rule(
        id=rule_id,
        description=description,
        effect=_effect(raw.get("effect"), source=source, path=f"{path}.effect"),
        when=Conditions(
            kinds=frozenset(_strings(when.get("action", []), source=source, path=f"{path}.when.action")),
            environments=frozenset(_strings(when.get("environment", []), source=source, path=f"{path}.when.environment")),
            agents=frozenset(_strings(when.get("agent", []), source=source, path=f"{path}.when.agent")),
            path_globs=_strings(when.get("paths", []), source=source, path=f"{path}.when.paths"),
            command_patterns=tuple(patterns),
        ),
    )


def _effect(value: object, *, source: str, path: str) -> Effect:
    try:
        return Effect(value)
    except ValueError:
        allowed = ", ".join(e.value for e in Effect)
        raise InvalidInputError(f"{value!r} is not an effect; use one of {allowed}", source=source, field=path) from None


def _strings(value: object, *, source: str, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError("expected a string or a list of non-empty strings", source=source, field=path)
    return tuple(value)
