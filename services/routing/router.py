"""The router: picks the enabled agent whose capabilities cover a task at the lowest expected
cost per accepted result, and says why.

A plain class with no I/O, so the ranking rules are tested without a database or a server.
Every agent in the registry becomes a candidate: eligible ones first, cheapest per accepted
result first, then the ineligible ones with what rules them out; ties are broken by agent name so
a decision is reproducible. The estimate is the agent's price for the expected tokens (when a
request does not say how many tokens it expects, the DEFAULT_EXPECTED_* constants below stand
in), divided by the agent's expected acceptance for the task's capabilities (agentcoord.reviews):
with no reviews every agent shares the same prior, so the cheapest wins; rejected work makes an
agent dearer for that kind of task.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError, NoEligibleAgentError
from agentcoord.money import format_usd
from agentcoord.reviews import AcceptanceStats
from agentcoord.routing import RouteCandidate, RouteDecision

# A typical single coding task: a few files of context in, one patch and a summary out.
DEFAULT_EXPECTED_INPUT_TOKENS = 4_000
DEFAULT_EXPECTED_OUTPUT_TOKENS = 1_500


@dataclass(frozen=True)
class _Assessment:
    agent: AgentConfig
    cost_micro_usd: int
    problems: tuple[str, ...]
    acceptance: float
    reviews: int

    @property
    def eligible(self) -> bool:
        return not self.problems

    @property
    def cost_per_accepted_micro_usd(self) -> int:
        return round(self.cost_micro_usd / self.acceptance) if self.acceptance > 0 else 2**62

    @property
    def rank(self) -> tuple[bool, int, str]:
        return (not self.eligible, self.cost_per_accepted_micro_usd, self.agent.name)

    def acceptance_note(self) -> str:
        return f"P(accept) {self.acceptance:.2f} from {self.reviews} review{'s' * (self.reviews != 1)}"


class Router:
    """Ranks the agents of a registry for a task's capabilities and expected tokens."""

    def __init__(self, agents: Sequence[AgentConfig]) -> None:
        self._agents = tuple(agents)

    @property
    def agents(self) -> tuple[AgentConfig, ...]:
        """The registry this router chooses from, in registry order."""
        return self._agents

    def route(
        self,
        capabilities: Iterable[str],
        *,
        expected_input_tokens: int = 0,
        expected_output_tokens: int = 0,
        acceptance: AcceptanceStats | None = None,
    ) -> RouteDecision:
        """Choose the enabled agent having every capability that is cheapest per accepted result.

        0 tokens means the default; `acceptance` holds past review verdicts (none: every agent
        gets the same prior, so the cheapest wins).

        Raises NoEligibleAgentError, naming the capabilities and every agent considered, when no
        enabled agent covers them, and InvalidInputError for a blank capability or negative tokens.
        """
        required = _required_capabilities(capabilities)
        input_tokens = _expected_tokens(
            expected_input_tokens, DEFAULT_EXPECTED_INPUT_TOKENS, field="expected_input_tokens"
        )
        output_tokens = _expected_tokens(
            expected_output_tokens, DEFAULT_EXPECTED_OUTPUT_TOKENS, field="expected_output_tokens"
        )
        stats = acceptance or AcceptanceStats.empty()
        ranked = sorted(
            (_assess(agent, required, input_tokens, output_tokens, stats) for agent in self._agents),
            key=lambda a: a.rank,
        )
        eligible = [a for a in ranked if a.eligible]
        if not eligible:
            raise NoEligibleAgentError(_no_agent_message(required, ranked))
        chosen = eligible[0]
        return RouteDecision(
            decision_id=str(uuid.uuid4()),
            agent=chosen.agent.name,
            model=chosen.agent.model,
            reason=_decision_reason(required, eligible),
            capabilities=required,
            expected_input_tokens=input_tokens,
            expected_output_tokens=output_tokens,
            candidates=tuple(_candidate(a, chosen) for a in ranked),
        )


def _required_capabilities(capabilities: Iterable[str]) -> tuple[str, ...]:
    required = set()
    for capability in capabilities:
        if not capability.strip():
            raise InvalidInputError("capabilities must not be blank", field="capabilities")
        required.add(capability)
    return tuple(sorted(required))


def _expected_tokens(value: int, default: int, *, field: str) -> int:
    if value < 0:
        raise InvalidInputError(f"must not be negative, got {value}", field=field)
    return value or default


def _assess(
    agent: AgentConfig, required: tuple[str, ...], input_tokens: int, output_tokens: int, stats: AcceptanceStats
) -> _Assessment:
    problems = []
    if not agent.enabled:
        problems.append("disabled")
    missing = [c for c in required if c not in agent.capabilities]
    if missing:
        problems.append(f"missing capabilities {', '.join(missing)}")
    cost = agent.cost_micro_usd(input_tokens=input_tokens, output_tokens=output_tokens)
    acceptance, reviews = stats.acceptance(agent.name, required)
    return _Assessment(
        agent=agent, cost_micro_usd=cost, problems=tuple(problems), acceptance=acceptance, reviews=reviews
    )


def _candidate(assessment: _Assessment, chosen: _Assessment) -> RouteCandidate:
    if assessment is chosen and not chosen.reviews:
        reason = "chosen: cheapest eligible"
    elif assessment is chosen:
        reason = f"chosen: cheapest per accepted result ({chosen.acceptance_note()})"
    elif assessment.eligible and not (assessment.reviews or chosen.reviews):
        extra = format_usd(assessment.cost_micro_usd - chosen.cost_micro_usd)
        reason = f"eligible; +{extra} over {chosen.agent.name}"
    elif assessment.eligible:
        reason = (
            f"eligible; {format_usd(assessment.cost_per_accepted_micro_usd)} per accepted result"
            f" ({assessment.acceptance_note()}) vs {format_usd(chosen.cost_per_accepted_micro_usd)}"
            f" for {chosen.agent.name}"
        )
    else:
        reason = "; ".join(assessment.problems)
    return RouteCandidate(
        agent=assessment.agent.name,
        model=assessment.agent.model,
        estimated_cost_micro_usd=assessment.cost_micro_usd,
        eligible=assessment.eligible,
        reason=reason,
    )


def _covering(required: tuple[str, ...]) -> str:
    return f"covering {', '.join(required)}" if required else "(no capabilities required)"


def _decision_reason(required: tuple[str, ...], eligible: list[_Assessment]) -> str:
    chosen = eligible[0]
    if any(a.reviews for a in eligible):
        ranked = ", ".join(
            f"{a.agent.name} {format_usd(a.cost_per_accepted_micro_usd)} ({a.acceptance_note()})" for a in eligible
        )
        return (
            f"cheapest per accepted result among enabled agents {_covering(required)}: {chosen.agent.name}"
            f" ({format_usd(chosen.cost_micro_usd)} est.); per accepted result: {ranked}"
        )
    if len(eligible) > 1:
        runner_up = eligible[1]
        alternative = f"next {runner_up.agent.name} {format_usd(runner_up.cost_micro_usd)}"
    else:
        alternative = "no other eligible agent"
    return (
        f"cheapest enabled agent {_covering(required)}: {chosen.agent.name}"
        f" ({format_usd(chosen.cost_micro_usd)} est.; {alternative})"
    )


def _no_agent_message(required: tuple[str, ...], ranked: list[_Assessment]) -> str:
    wanted = f"covers {', '.join(required)}" if required else "is available"
    if not ranked:
        return f"no enabled agent {wanted}: no agents are registered"
    considered = ", ".join(f"{a.agent.name} ({'; '.join(a.problems)})" for a in ranked)
    return f"no enabled agent {wanted}; considered: {considered}"
