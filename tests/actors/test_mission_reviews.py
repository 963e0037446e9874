"""Reviews in the Mission's logic (no Ray): results wait, verdicts free or rework them, once each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from scripted_ports import ScriptedPorts, create_mission, task_states

from agentcoord.actors.mission_runner import MissionRunner
from agentcoord.errors import ConflictError, InvalidInputError
from agentcoord.reviews import ReviewVerdict, check_review_input
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.reviews import acceptance_stats, list_reviews, record_review, review_queue

# "schema" matches the default policy's require_review rule for migrations; "docs" needs no review.
MIGRATION = {
    "name": "migration", "goal": "add a column", "max_attempts": 2,
    "tasks": [
        {"id": "schema", "description": "write the migration", "capabilities": ["code", "db"],
         "action": {"kind": "migrate", "paths": ["db/migrations/0002.sql"]}},
        {"id": "docs", "description": "document the column", "capabilities": ["docs"]},
        {"id": "backfill", "description": "backfill the column", "capabilities": ["code"], "depends_on": ["schema"]},
    ],
}


@pytest.fixture
def setup(runner: Any, make_db: Callable[[str], Database], fresh_database_url: str) -> tuple[Database, str]:
    return make_db(fresh_database_url), fresh_database_url


def _review(runner: Any, db: Database, mission_id: str, task_id: str, verdict: ReviewVerdict, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with db.transaction() as conn:
            return await record_review(
                conn, review_id=kwargs.pop("review_id", f"r-{task_id}-{verdict.value}"), mission_id=mission_id,
                task_id=task_id, verdict=verdict, reviewer=kwargs.pop("reviewer", "ana"),
                reason=kwargs.pop("reason", ""), actor="test",
            )
    return runner.run(go())


def _mission_state(url: str, mission_id: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]


def test_a_result_needing_review_parks_the_mission_until_it_is_accepted(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, MIGRATION)
    first = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=first).run()) is MissionState.AWAITING_REVIEW
    tasks = task_states(url, mission_id)
    assert tasks["schema"] == ("awaiting_review", 1) and tasks["docs"] == ("succeeded", 1)
    assert tasks["backfill"] == ("pending", 0)  # its dependency is not done until accepted
    queue = runner.run(_queue(db))
    assert [(i.mission_id, i.task_id, i.summary) for i in queue] == [(mission_id, "schema", "did schema")]

    review, recorded = _review(runner, db, mission_id, "schema", ReviewVerdict.ACCEPTED)
    assert recorded and review.agent == "sim-fast" and review.capabilities == ("code", "db")
    assert _mission_state(url, mission_id) == "running"  # the review put it back to work
    second = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=second).run()) is MissionState.COMPLETED
    assert [task for task, _ in second.launched] == ["backfill"]
    assert task_states(url, mission_id)["schema"] == ("accepted", 1)


def test_a_rejection_reworks_the_task_with_a_new_routed_attempt(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, MIGRATION)
    runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run())
    _review(runner, db, mission_id, "schema", ReviewVerdict.REJECTED, reason="drops the old index")
    assert task_states(url, mission_id)["schema"] == ("pending", 1)
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.AWAITING_REVIEW
    assert [task for task, _ in ports.launched] == ["schema"]  # only the rejected task ran again
    _review(runner, db, mission_id, "schema", ReviewVerdict.ACCEPTED)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run()) is MissionState.COMPLETED
    with psycopg.connect(url) as conn:
        outcomes = conn.execute(
            "SELECT number, outcome FROM attempts WHERE mission_id = %s AND task_id = 'schema' ORDER BY number",
            (mission_id,),
        ).fetchall()
        routed = conn.execute(
            "SELECT count(*) FROM events WHERE mission_id = %s AND task_id = 'schema' AND topic = 'task.state'"
            " AND payload->>'to' = 'routed'", (mission_id,),
        ).fetchone()[0]
    assert outcomes == [(1, "rejected"), (2, "succeeded")]
    assert routed == 2  # routed afresh, so the rejection could change the agent
    reasons = [r.reason for r in runner.run(_reviews(db, mission_id))]
    assert reasons == ["drops the old index", ""]


def test_a_rejection_with_no_attempts_left_rejects_the_task_and_fails_the_mission(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, {**MIGRATION, "max_attempts": 1})
    runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run())
    _review(runner, db, mission_id, "schema", ReviewVerdict.REJECTED, reason="wrong table")
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run()) is MissionState.FAILED
    tasks = task_states(url, mission_id)
    assert tasks["schema"] == ("rejected", 1) and tasks["backfill"] == ("pending", 0)
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert "task schema rejected: rejected by ana: wrong table" in reason and "not run: backfill" in reason


def test_a_review_is_recorded_once_and_only_for_a_result_awaiting_review(runner: Any, setup: tuple[Database, str]) -> None:
    db, _url = setup
    mission_id = create_mission(runner, db, MIGRATION)
    runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run())
    first, recorded = _review(runner, db, mission_id, "schema", ReviewVerdict.ACCEPTED, review_id="rv-1")
    again, recorded_again = _review(runner, db, mission_id, "schema", ReviewVerdict.ACCEPTED, review_id="rv-1")
    assert recorded and not recorded_again and again == first
    with pytest.raises(ConflictError, match="already recorded for another task or verdict"):
        _review(runner, db, mission_id, "schema", ReviewVerdict.REJECTED, review_id="rv-1", reason="x")
    with pytest.raises(ConflictError, match="schema is accepted, not awaiting review"):
        _review(runner, db, mission_id, "schema", ReviewVerdict.REJECTED, review_id="rv-2", reason="x")
    with pytest.raises(ConflictError, match="docs is succeeded, not awaiting review"):
        _review(runner, db, mission_id, "docs", ReviewVerdict.ACCEPTED)
    assert [r.review_id for r in runner.run(_reviews(db, mission_id))] == ["rv-1"]
    counts = runner.run(_stats(db)).counts
    assert counts == {("sim-fast", "code"): (1, 1), ("sim-fast", "db"): (1, 1)}  # the replay counted nothing


def test_simulated_verdicts_are_reviewed_at_once_and_feed_the_tallies(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    document = {"name": "sim", "goal": "g", "tasks": [{"id": "a", "description": "x", "capabilities": ["code"]}]}
    mission_id = create_mission(runner, db, document)
    ports = ScriptedPorts({"a": ["ok+rejected", "ok+accepted"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    assert task_states(url, mission_id)["a"] == ("accepted", 2)
    reviews = runner.run(_reviews(db, mission_id))
    assert [(r.verdict, r.reviewer) for r in reviews] == [
        (ReviewVerdict.REJECTED, "simulated reviewer"), (ReviewVerdict.ACCEPTED, "simulated reviewer")
    ]
    assert runner.run(_stats(db)).counts == {("sim-fast", "code"): (1, 2)}


def test_a_review_policy_requires_waits_for_a_person_even_with_a_simulated_verdict(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, MIGRATION)
    ports = ScriptedPorts({"schema": ["ok+accepted"], "docs": ["ok+rejected", "ok+accepted"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.AWAITING_REVIEW
    tasks = task_states(url, mission_id)
    assert tasks["schema"] == ("awaiting_review", 1)  # the migration waits for a person
    assert tasks["docs"] == ("accepted", 2)  # the simulated reviewer handled the rest
    assert [r.task_id for r in runner.run(_reviews(db, mission_id))] == ["docs", "docs"]


def test_review_all_makes_every_result_wait(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    document = {"name": "all", "goal": "g", "review": "all",
                "tasks": [{"id": "a", "description": "x"}, {"id": "b", "description": "y", "depends_on": ["a"]}]}
    mission_id = create_mission(runner, db, document)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run()) is MissionState.AWAITING_REVIEW
    assert task_states(url, mission_id) == {"a": ("awaiting_review", 1), "b": ("pending", 0)}


def test_a_restarted_run_of_a_parked_mission_does_nothing_until_a_review(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, MIGRATION)
    runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run())
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.AWAITING_REVIEW
    assert ports.launched == [] and _mission_state(url, mission_id) == "awaiting_review"


def test_review_input_is_checked_before_anything_is_stored() -> None:
    with pytest.raises(InvalidInputError, match="verdict"):
        check_review_input(verdict=None, reviewer="ana", reason="")
    with pytest.raises(InvalidInputError, match="reviewer"):
        check_review_input(verdict=ReviewVerdict.ACCEPTED, reviewer="  ", reason="")
    with pytest.raises(InvalidInputError, match="a rejection needs a reason"):
        check_review_input(verdict=ReviewVerdict.REJECTED, reviewer="ana", reason=" ")
    assert check_review_input(verdict=ReviewVerdict.ACCEPTED, reviewer="ana", reason="") is ReviewVerdict.ACCEPTED


async def _queue(db: Database) -> Any:
    async with db.transaction() as conn:
        return await review_queue(conn, limit=10)


async def _reviews(db: Database, mission_id: str) -> Any:
    async with db.transaction() as conn:
        return await list_reviews(conn, mission_id=mission_id)


async def _stats(db: Database) -> Any:
    async with db.transaction() as conn:
        return await acceptance_stats(conn)
