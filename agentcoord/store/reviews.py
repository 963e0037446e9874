"""Queries for reviews: record a verdict with everything it changes, the queue, acceptance counts.

`record_review` is the one place a verdict is applied, for people (MissionService) and for the
simulated reviewer (the mission runner) alike. It locks the mission row first, so a verdict and
a runner concluding "awaiting review" never cross: whichever commits second sees the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentcoord.errors import ConflictError, NotFoundError
from agentcoord.reviews import AcceptanceStats, Review, ReviewVerdict
from agentcoord.states import MissionState, TaskState
from agentcoord.store.database import Connection
from agentcoord.store.events import append_event
from agentcoord.store.missions import set_mission_state, set_task_state

REVIEWED_TOPIC = "task.reviewed"


@dataclass(frozen=True)
class ReviewQueueItem:
    """A task whose result waits for a verdict."""

    mission_id: str
    mission_name: str
    task_id: str
    attempt_id: str
    agent: str
    summary: str
    waiting_since: datetime


async def lock_mission(conn: Connection, mission_id: str) -> dict[str, Any]:
    """Lock the mission row until commit and return its state and max_attempts."""
    cur = await conn.execute(
        "SELECT state, max_attempts FROM missions WHERE mission_id = %s FOR UPDATE", (mission_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no mission {mission_id}")
    return row


async def count_awaiting_review(conn: Connection, mission_id: str) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM tasks WHERE mission_id = %s AND state = %s",
        (mission_id, TaskState.AWAITING_REVIEW.value),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def record_review(
    conn: Connection, *, review_id: str, mission_id: str, task_id: str, verdict: ReviewVerdict,
    reviewer: str, reason: str, actor: str,
) -> tuple[Review, bool]:
    """Apply a verdict to the task's awaiting result; return the review and whether it is new.

    Accepted: the task is accepted. Rejected: the attempt's outcome becomes `rejected` and the
    task goes back to pending (rework, routed afresh) while attempts remain and the mission is
    not over, else it ends rejected. A mission waiting for reviews resumes running. A replayed
    review_id returns the stored review and changes nothing.
    """
    mission = await lock_mission(conn, mission_id)
    existing = await get_review(conn, review_id)
    if existing is not None:
        if (existing.mission_id, existing.task_id, existing.verdict) != (mission_id, task_id, verdict):
            raise ConflictError(f"review {review_id} was already recorded for another task or verdict")
        return existing, False
    cur = await conn.execute(
        "SELECT t.state, t.attempts, t.capabilities, a.attempt_id, a.agent FROM tasks t"
        " LEFT JOIN attempts a ON a.mission_id = t.mission_id AND a.task_id = t.task_id AND a.outcome = 'succeeded'"
        " WHERE t.mission_id = %s AND t.task_id = %s",
        (mission_id, task_id),
    )
    task = await cur.fetchone()
    if task is None:
        raise NotFoundError(f"mission {mission_id} has no task {task_id!r}")
    state = TaskState(task["state"])
    if state is not TaskState.AWAITING_REVIEW or task["attempt_id"] is None:
        raise ConflictError(f"task {mission_id}/{task_id} is {state.value}, not awaiting review")
    cur = await conn.execute(
        "INSERT INTO reviews (review_id, mission_id, task_id, attempt_id, agent, capabilities, verdict, reviewer,"
        " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING created_at",
        (review_id, mission_id, task_id, task["attempt_id"], task["agent"], task["capabilities"], verdict.value,
         reviewer, reason),
    )
    created = await cur.fetchone()
    assert created is not None
    review = Review(
        review_id=review_id, mission_id=mission_id, task_id=task_id, attempt_id=task["attempt_id"],
        agent=task["agent"], capabilities=tuple(task["capabilities"]), verdict=verdict, reviewer=reviewer,
        reason=reason, created_at=created["created_at"],
    )
    mission_state = MissionState(mission["state"])
    target, why = _task_after(review, attempts=task["attempts"], max_attempts=mission["max_attempts"],
                              mission_over=mission_state.is_terminal)
    if verdict is ReviewVerdict.REJECTED:
        await conn.execute("UPDATE attempts SET outcome = 'rejected' WHERE attempt_id = %s", (review.attempt_id,))
    await conn.execute(
        "INSERT INTO review_tallies (agent, capability, accepted, reviewed)"
        " SELECT %s, capability, %s, 1 FROM unnest(%s::text[]) AS capability"
        " ON CONFLICT (agent, capability) DO UPDATE SET accepted = review_tallies.accepted + excluded.accepted,"
        " reviewed = review_tallies.reviewed + 1",
        (review.agent, int(verdict is ReviewVerdict.ACCEPTED), list(review.capabilities)),
    )
    await append_event(conn, topic=REVIEWED_TOPIC, actor=actor, mission_id=mission_id, task_id=task_id,
                       payload=_payload(review))
    await set_task_state(conn, mission_id=mission_id, task_id=task_id, current=state, target=target, reason=why,
                         actor=actor, extra={"review_id": review_id})
    if mission_state is MissionState.AWAITING_REVIEW:
        await set_mission_state(conn, mission_id=mission_id, current=mission_state, target=MissionState.RUNNING,
                                reason=f"task {task_id} reviewed", actor=actor)
    return review, True


def _task_after(review: Review, *, attempts: int, max_attempts: int, mission_over: bool) -> tuple[TaskState, str]:
    by = f"by {review.reviewer}" + (f": {review.reason}" if review.reason else "")
    if review.verdict is ReviewVerdict.ACCEPTED:
        return TaskState.ACCEPTED, f"accepted {by}"
    if attempts < max_attempts and not mission_over:
        return TaskState.PENDING, f"rework after attempt {attempts} was rejected {by}"
    return TaskState.REJECTED, f"rejected {by}"


def _payload(review: Review) -> dict[str, Any]:
    return {"review_id": review.review_id, "attempt_id": review.attempt_id, "agent": review.agent,
            "verdict": review.verdict.value, "reviewer": review.reviewer, "reason": review.reason}


_SELECT_REVIEWS = (
    "SELECT review_id, mission_id, task_id, attempt_id, agent, capabilities, verdict, reviewer, reason, created_at"
    " FROM reviews"
)


async def get_review(conn: Connection, review_id: str) -> Review | None:
    cur = await conn.execute(_SELECT_REVIEWS + " WHERE review_id = %s", (review_id,))
    row = await cur.fetchone()
    return None if row is None else _review(row)


async def list_reviews(conn: Connection, *, mission_id: str, task_id: str = "") -> list[Review]:
    """A mission's reviews (one task's when `task_id` is given), oldest first."""
    cur = await conn.execute(
        _SELECT_REVIEWS + " WHERE mission_id = %s AND (%s = '' OR task_id = %s) ORDER BY created_at, review_id",
        (mission_id, task_id, task_id),
    )
    return [_review(row) for row in await cur.fetchall()]


async def review_queue(conn: Connection, *, limit: int) -> list[ReviewQueueItem]:
    """Tasks awaiting review, longest waiting first, with the result to review."""
    cur = await conn.execute(
        "SELECT t.mission_id, m.name AS mission_name, t.task_id, a.attempt_id, a.agent, a.summary,"
        " t.updated_at AS waiting_since FROM tasks t"
        " JOIN missions m ON m.mission_id = t.mission_id"
        " JOIN attempts a ON a.mission_id = t.mission_id AND a.task_id = t.task_id AND a.outcome = 'succeeded'"
        " WHERE t.state = %s ORDER BY t.updated_at, t.mission_id, t.task_id LIMIT %s",
        (TaskState.AWAITING_REVIEW.value, limit),
    )
    return [ReviewQueueItem(**row) for row in await cur.fetchall()]


async def acceptance_stats(conn: Connection) -> AcceptanceStats:
    """Accepted and reviewed results per (agent, capability), over every review (kept as tallies)."""
    cur = await conn.execute("SELECT agent, capability, accepted, reviewed FROM review_tallies")
    return AcceptanceStats(
        {(row["agent"], row["capability"]): (int(row["accepted"]), int(row["reviewed"])) for row in await cur.fetchall()}
    )


def _review(row: dict[str, Any]) -> Review:
    return Review(
        review_id=row["review_id"], mission_id=row["mission_id"], task_id=row["task_id"],
        attempt_id=row["attempt_id"], agent=row["agent"], capabilities=tuple(row["capabilities"]),
        verdict=ReviewVerdict(row["verdict"]), reviewer=row["reviewer"], reason=row["reason"],
        created_at=row["created_at"],
    )
