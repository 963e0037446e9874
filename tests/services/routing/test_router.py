"""The router: cheapest covering agent, full ranking with reasons, and no silent fallback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError, NoEligibleAgentError
from agentcoord.reviews import PRIOR_ACCEPTANCE, PRIOR_REVIEWS, AcceptanceStats
from agentcoord.services.routing.router import (
    DEFAULT_EXPECTED_INPUT_TOKENS,
    DEFAULT_EXPECTED_OUTPUT_TOKENS,
    Router,
)


def agent(
    name: str,
    capabilities: tuple[str, ...],
    input_price: int,
    output_price: int,
    *,
    enabled: bool = True,
) -> AgentConfig:
    return AgentConfig(
        name=name,
        adapter="sim",
        model=f"{name}-model",
        capabilities=capabilities,
        input_price_micro_usd_per_mtok=input_price,
        output_price_micro_usd_per_mtok=output_price,
        enabled=enabled,
    )


# The bundled registry's prices: $0.80/$4, $3/$15, $15/$75 per million tokens.
FAST = agent("sim-fast", ("code", "docs", "test"), 800_000, 4_000_000)
BALANCED = agent("sim-balanced", ("code", "docs", "test", "review", "db"), 3_000_000, 15_000_000)
DEEP = agent(
    "sim-deep", ("code", "docs", "test", "review", "db", "architecture"), 15_000_000, 75_000_000
)


def test_picks_the_cheapest_covering_agent_and_ranks_the_rest() -> None:
    decision = Router([DEEP, BALANCED, FAST]).route(["test", "code"])

    assert (decision.agent, decision.model) == ("sim-fast", "sim-fast-model")
    # 4000 in x $0.80/M + 1500 out x $4/M = $0.0092; sim-balanced: $0.012 + $0.0225 = $0.0345.
    assert decision.estimated_cost_micro_usd == 9_200
    assert decision.reason == (
        "cheapest enabled agent covering code, test:"
        " sim-fast ($0.0092 est.; next sim-balanced $0.0345)"
    )
    assert [(c.agent, c.estimated_cost_micro_usd, c.eligible) for c in decision.candidates] == [
        ("sim-fast", 9_200, True),
        ("sim-balanced", 34_500, True),
        ("sim-deep", 172_500, True),
    ]
    assert decision.candidates[1].reason == "eligible; +$0.0253 over sim-fast"
    assert decision.capabilities == ("code", "test")
    assert (decision.expected_input_tokens, decision.expected_output_tokens) == (
        DEFAULT_EXPECTED_INPUT_TOKENS,
        DEFAULT_EXPECTED_OUTPUT_TOKENS,
    )


def test_ineligible_agents_follow_with_what_rules_them_out() -> None:
    disabled_fast = agent("sim-fast", FAST.capabilities, 800_000, 4_000_000, enabled=False)
    decision = Router([disabled_fast, BALANCED, DEEP]).route(["db", "code"])

    assert decision.agent == "sim-balanced"
    assert [(c.agent, c.eligible, c.reason) for c in decision.candidates] == [
        ("sim-balanced", True, "chosen: cheapest eligible"),
        ("sim-deep", True, "eligible; +$0.1380 over sim-balanced"),
        ("sim-fast", False, "disabled; missing capabilities db"),
    ]


def test_disabled_agents_are_never_chosen_even_when_cheapest() -> None:
    decision = Router([agent("cheap", ("code",), 1, 1, enabled=False), BALANCED]).route(["code"])

    assert decision.agent == "sim-balanced"
    assert decision.reason.endswith("($0.0345 est.; no other eligible agent)")
    assert decision.candidates[-1].reason == "disabled"


def test_expected_tokens_drive_the_estimate() -> None:
    decision = Router([FAST]).route(
        ["code"], expected_input_tokens=1_000_000, expected_output_tokens=10
    )

    assert decision.estimated_cost_micro_usd == 800_000 + 40
    assert (decision.expected_input_tokens, decision.expected_output_tokens) == (1_000_000, 10)


def test_equal_costs_are_broken_by_name() -> None:
    twins = [
        agent(name, ("code",), 1_000_000, 1_000_000) for name in ("b-agent", "c-agent", "a-agent")
    ]

    decision = Router(twins).route(["code"])

    assert [c.agent for c in decision.candidates] == ["a-agent", "b-agent", "c-agent"]
    assert decision.agent == "a-agent"


def test_no_eligible_agent_names_the_capabilities_and_every_agent_considered() -> None:
    router = Router([FAST, agent("sim-off", ("code", "quantum"), 1, 1, enabled=False)])

    with pytest.raises(NoEligibleAgentError) as caught:
        router.route(["quantum", "code"])

    message = str(caught.value)
    assert "no enabled agent covers code, quantum" in message
    assert "sim-fast (missing capabilities quantum)" in message
    assert "sim-off (disabled)" in message


def test_an_empty_registry_says_so() -> None:
    with pytest.raises(NoEligibleAgentError, match="no agents are registered"):
        Router([]).route(["code"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"capabilities": ["code", " "]}, "capabilities"),
        ({"capabilities": ["code"], "expected_input_tokens": -1}, "expected_input_tokens"),
        ({"capabilities": ["code"], "expected_output_tokens": -5}, "expected_output_tokens"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Router([FAST]).route(**kwargs)
    assert caught.value.field == field


CAPABILITY_POOL = ("code", "docs", "test", "review", "db", "deploy")
agents_strategy = st.lists(
    st.builds(
        agent,
        name=st.text(alphabet="abcdefgh", min_size=1, max_size=6),
        capabilities=st.sets(st.sampled_from(CAPABILITY_POOL)).map(lambda s: tuple(sorted(s))),
        input_price=st.integers(0, 20_000_000),
        output_price=st.integers(0, 80_000_000),
        enabled=st.booleans(),
    ),
    max_size=6,
    unique_by=lambda a: a.name,
)


@given(
    agents=agents_strategy,
    required=st.sets(st.sampled_from(CAPABILITY_POOL), max_size=3),
    input_tokens=st.integers(0, 200_000),
    output_tokens=st.integers(0, 50_000),
)
def test_chosen_agent_covers_the_task_and_none_eligible_is_cheaper(
    agents: list[AgentConfig], required: set[str], input_tokens: int, output_tokens: int
) -> None:
    router = Router(agents)
    fits = [a for a in agents if a.enabled and required <= set(a.capabilities)]
    if not fits:
        with pytest.raises(NoEligibleAgentError):
            router.route(
                required, expected_input_tokens=input_tokens, expected_output_tokens=output_tokens
            )
        return

    decision = router.route(
        required, expected_input_tokens=input_tokens, expected_output_tokens=output_tokens
    )

    chosen = next(a for a in agents if a.name == decision.agent)
    assert chosen.enabled and required <= set(chosen.capabilities)
    assert sorted(c.agent for c in decision.candidates) == sorted(a.name for a in agents)
    eligible = [c for c in decision.candidates if c.eligible]
    assert {c.agent for c in eligible} == {a.name for a in fits}
    assert all(decision.estimated_cost_micro_usd <= c.estimated_cost_micro_usd for c in eligible)
    assert [c.eligible for c in decision.candidates] == sorted(
        (c.eligible for c in decision.candidates), reverse=True
    )
    assert [c.estimated_cost_micro_usd for c in eligible] == sorted(
        c.estimated_cost_micro_usd for c in eligible
    )


def test_rejections_make_a_cheap_agent_lose_to_one_whose_work_is_accepted() -> None:
    router = Router([FAST, BALANCED])
    assert router.route(["code"]).agent == "sim-fast"  # no reviews yet: the cheapest wins
    # sim-fast costs 1/3.75 of sim-balanced per attempt; 1 of its 20 code results was accepted,
    # so one accepted result costs it about 4.7x as many attempts as sim-balanced needs.
    stats = AcceptanceStats({("sim-fast", "code"): (1, 20), ("sim-balanced", "code"): (9, 10)})
    decision = router.route(["code"], acceptance=stats)
    assert decision.agent == "sim-balanced"
    assert decision.reason.startswith("cheapest per accepted result among enabled agents covering code: sim-balanced")
    assert "sim-fast" in decision.reason and "P(accept) 0.19 from 20 reviews" in decision.reason
    assert decision.candidates[0].reason == "chosen: cheapest per accepted result (P(accept) 0.90 from 10 reviews)"
    assert decision.candidates[1].agent == "sim-fast" and "per accepted result" in decision.candidates[1].reason
    # A few rejections of an agent with a good record do not outweigh a 4x price difference.
    assert router.route(["code"], acceptance=AcceptanceStats({("sim-fast", "code"): (6, 10)})).agent == "sim-fast"


def test_a_task_is_as_likely_to_be_accepted_as_its_weakest_capability() -> None:
    stats = AcceptanceStats({("a", "code"): (10, 10), ("a", "db"): (0, 6)})
    rate, reviews = stats.acceptance("a", ("code", "db"))
    assert reviews == 6 and rate == pytest.approx((0 + PRIOR_ACCEPTANCE * PRIOR_REVIEWS) / (6 + PRIOR_REVIEWS))
    assert stats.acceptance("b", ("code",)) == (PRIOR_ACCEPTANCE, 0)
    assert stats.acceptance("a", ()) == (PRIOR_ACCEPTANCE, 0)
