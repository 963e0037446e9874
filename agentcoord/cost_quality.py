"""Cost of quality: spend per accepted task, rework spend, and what another agent would have cost.

Usage is tied to attempts by `attempt_id`; attempts carry their outcome and their task's state
and capability (agentcoord.store.usage_frames.read_outcomes). An attempt is *accepted* when it
succeeded and its task ended accepted (or succeeded with no review); its spend is *rework* when
it failed, was rejected or reverted, or its task was rejected. Counterfactuals compare, per
capability, the expected cost of one accepted result: mean cost per attempt divided by the
acceptance rate observed for that agent and capability.
"""

from __future__ import annotations

import polars as pl

ACCEPTED_TASK_STATES = ("accepted", "succeeded")
REWORK_OUTCOMES = ("failed", "rejected", "reverted")
QUALITY_USAGE_COLUMNS = ("attempt_id", "cost_micro_usd")
"""The usage columns `quality_frame` reads (`reports.usage_lazy(..., columns=...)`)."""


def quality_frame(usage: pl.LazyFrame, outcomes: pl.LazyFrame) -> pl.DataFrame:
    """Per (agent, capability): attempts, accepted tasks, acceptance rate, spend and rework.

    `usage` is a `reports.usage_lazy` frame, `outcomes` a `read_outcomes` frame. Columns: agent,
    capability, attempts, accepted_tasks, acceptance_rate, cost_micro_usd, rework_micro_usd,
    cost_per_accepted_task_micro_usd (None when nothing was accepted). Costliest first.
    """
    per_attempt = usage.group_by("attempt_id").agg(pl.col("cost_micro_usd").sum())
    attempts = outcomes.join(per_attempt, on="attempt_id", how="left").with_columns(
        pl.col("cost_micro_usd").fill_null(0),
        accepted=(pl.col("outcome") == "succeeded")
        & pl.col("task_state").is_in(ACCEPTED_TASK_STATES),
        rework=pl.col("outcome").is_in(REWORK_OUTCOMES) | (pl.col("task_state") == "rejected"),
    )
    return (
        attempts.group_by("agent", "capability")
        .agg(
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.struct("mission", "task").filter(pl.col("accepted")).n_unique().cast(pl.Int64)
            .alias("accepted_tasks"),
            pl.col("accepted").sum().cast(pl.Int64).alias("accepted_attempts"),
            pl.col("cost_micro_usd").sum(),
            pl.col("cost_micro_usd").filter(pl.col("rework")).sum().alias("rework_micro_usd"),
        )
        .with_columns(
            acceptance_rate=pl.col("accepted_attempts") / pl.col("attempts"),
            cost_per_accepted_task_micro_usd=pl.when(pl.col("accepted_tasks") > 0).then(
                pl.col("cost_micro_usd") // pl.col("accepted_tasks")
            ),
        )
        .drop("accepted_attempts")
        .sort(["cost_micro_usd", "agent", "capability"], descending=[True, False, False])
        .collect()
    )


def counterfactuals(quality: pl.DataFrame, *, min_attempts: int = 3) -> pl.DataFrame:
    """Savings had each capability's accepted tasks gone to a cheaper agent, at observed rates.

    For agents A and B with at least `min_attempts` attempts at a capability (B with some
    accepted), the expected cost of one accepted result is cost per attempt / acceptance rate;
    the saving is A's accepted tasks x (expected cost with A - with B), in micro-dollars, kept
    when positive. Columns: capability, agent, alternative, accepted_tasks,
    expected_micro_usd, alternative_expected_micro_usd, saving_micro_usd. Largest saving first.
    """
    observed = quality.filter(pl.col("attempts") >= min_attempts).with_columns(
        expected_micro_usd=pl.when(pl.col("acceptance_rate") > 0).then(
            (pl.col("cost_micro_usd") / pl.col("attempts") / pl.col("acceptance_rate"))
            .round(0)
            .cast(pl.Int64)
        )
    )
    pairs = observed.join(observed, on="capability", suffix="_alt").filter(
        (pl.col("agent") != pl.col("agent_alt"))
        & (pl.col("accepted_tasks") > 0)
        & pl.col("expected_micro_usd_alt").is_not_null()
    )
    return (
        pairs.select(
            "capability",
            "agent",
            pl.col("agent_alt").alias("alternative"),
            "accepted_tasks",
            "expected_micro_usd",
            pl.col("expected_micro_usd_alt").alias("alternative_expected_micro_usd"),
            saving_micro_usd=pl.col("accepted_tasks")
            * (pl.col("expected_micro_usd") - pl.col("expected_micro_usd_alt")),
        )
        .filter(pl.col("saving_micro_usd") > 0)
        .sort(["saving_micro_usd", "capability", "agent"], descending=[True, False, False])
    )
