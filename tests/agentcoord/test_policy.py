"""Policy: deny overrides, default effects, rule ids on every decision, precise load errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.config import Config
from agentcoord.errors import InvalidInputError
from agentcoord.policy import ActionRequest, Effect, load_policy, parse_policy

POLICY = {
    "version": 1,
    "default_effect": "allow",
    "rules": [
        {"id": "no-prod", "effect": "deny", "when": {"action": ["deploy"], "environment": ["production"]}},
        {"id": "review-migrations", "effect": "require_review", "when": {"paths": ["migrations/**"]}},
        {"id": "no-force-push-main", "effect": "deny", "when": {"command": [r"git push .*--force.* main\b"]}},
        {"id": "deploys-ok", "effect": "allow", "when": {"action": ["deploy"]}},
    ],
}


def test_bundled_policy_denies_production_deploys() -> None:
    policy = load_policy(Config.from_env({}).policy_file)
    decision = policy.decide(ActionRequest(kind="deploy", environment="production"))
    assert decision.effect is Effect.DENY and decision.rule_ids == ("no-production-deploys",)
    assert policy.decide(ActionRequest(kind="deploy", environment="staging")).effect is Effect.ALLOW


def test_deny_overrides_allow_and_review_and_names_its_rules() -> None:
    policy = parse_policy(POLICY, source="test")
    decision = policy.decide(ActionRequest(kind="deploy", environment="production", paths=("migrations/001.sql",)))
    assert decision.effect is Effect.DENY and decision.rule_ids == ("no-prod",)
    review = policy.decide(ActionRequest(kind="edit", paths=("migrations/002.sql",)))
    assert review.effect is Effect.REQUIRE_REVIEW and review.rule_ids == ("review-migrations",)
    assert policy.decide(ActionRequest(kind="shell", command="git push origin --force main")).rule_ids == (
        "no-force-push-main",
    )
    assert policy.decide(ActionRequest(kind="deploy", environment="dev")).rule_ids == ("deploys-ok",)
    default = policy.decide(ActionRequest(kind="edit", paths=("src/app.py",)))
    assert default.effect is Effect.ALLOW and default.rule_ids == () and "default allow" in default.reason


@given(
    st.sampled_from(["edit", "deploy", "shell", "migrate"]),
    st.sampled_from(["", "dev", "production"]),
    st.lists(st.sampled_from(["src/a.py", "migrations/1.sql", "docs/x.md"]), max_size=3),
)
def test_a_matching_deny_rule_always_wins(kind: str, environment: str, paths: list[str]) -> None:
    policy = parse_policy(POLICY, source="test")
    decision = policy.decide(ActionRequest(kind=kind, environment=environment, paths=tuple(paths)))
    if kind == "deploy" and environment == "production":
        assert decision.effect is Effect.DENY
    else:
        assert decision.effect is not Effect.DENY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nrules: []\n", ":1: version: unsupported policy version 2"),
        ("version: 1\nrules:\n  - id: r\n    effect: maybe\n", ":4: rules[0].effect: 'maybe' is not an effect"),
        ("version: 1\nrules:\n  - id: r\n    effect: deny\n    when: {colour: [red]}\n", "rules[0].when.colour: unknown condition"),
        ("version: 1\nrules:\n  - {id: r, effect: deny, when: {command: ['(']}}\n", "rules[0].when.command[0]: invalid regular expression"),
        ("version: 1\nrules:\n  - {id: r, effect: deny}\n  - {id: r, effect: allow}\n", "rules[1].id: duplicate rule id 'r'"),
    ],
)
def test_bad_policies_name_line_and_field(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_policy(path)
    assert expected in str(caught.value)
