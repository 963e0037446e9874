"""Planning on Ray: a goal-only mission asks a planning agent for its task list.

The agent is the one the RoutingService picks for the `plan` capability; the proposal is
validated and retried by `agentcoord.planning.plan_tasks` inside a Ray task, so a planner that
hangs or crashes takes a worker down, not the Mission host.
"""

from __future__ import annotations

import ray

from agentcoord.actors.agents.sim_planner import SimulatedPlanner
from agentcoord.config import AgentConfig, Config
from agentcoord.errors import InvalidInputError
from agentcoord.planning import Planner, PlanResult, plan_tasks

PLAN_CAPABILITY = "plan"
MAX_PLAN_TRIES = 3


def build_planner(agent: AgentConfig) -> Planner:
    """The planner behind `agent`; only simulated agents can plan so far."""
    if agent.adapter == "sim":
        return SimulatedPlanner.from_config(agent)
    raise InvalidInputError(
        f"agent {agent.name!r} (adapter {agent.adapter!r}) cannot plan yet; give the mission its tasks",
        source="agent registry", field=f"{agent.name}.capabilities",
    )


def plan_with_agent(config: Config, agent: str, goal: str) -> PlanResult:
    """Ask `agent` for a plan for `goal`, validated, with bounded retries."""
    return plan_tasks(goal, planner=build_planner(config.agent(agent)), max_tries=MAX_PLAN_TRIES)


run_planning = ray.remote(num_cpus=0, max_retries=0)(plan_with_agent)
