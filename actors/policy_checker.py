"""The PolicyChecker: one shared decider every agent action is checked against.

The plain `PolicyChecker` loads and applies the policy; `policy_checker_handle` gets or creates
the named, detached Ray actor around it (restarted by Ray if it dies).
"""

from __future__ import annotations

from typing import Any

import ray

from agentcoord.actors import NAMESPACE
from agentcoord.config import Config
from agentcoord.policy import ActionRequest, Decision, Policy, load_policy

ACTOR_NAME = "policy-checker"


class PolicyChecker:
    """Decides on actions with the policy file named by the configuration."""

    def __init__(self, config: Config) -> None:
        self._policy: Policy = load_policy(config.policy_file)

    def check(self, request: ActionRequest) -> Decision:
        return self._policy.decide(request)

    def check_many(self, requests: list[ActionRequest]) -> list[Decision]:
        """Decide a batch (a Mission's round of task starts) in one call; answers in request order."""
        return [self._policy.decide(request) for request in requests]


PolicyCheckerActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(PolicyChecker)


def policy_checker_handle(config: Config) -> Any:
    """The running PolicyChecker actor, created on first use."""
    return PolicyCheckerActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(config)
