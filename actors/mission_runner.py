"""The Mission's logic: walk the task DAG, check policy, route, run attempts, record every step.

The runner's working state is a fold over the mission's event log (`MissionView`); every
transition is written (with its event, in the same statement) before it counts. The runner folds
the events of its own writes as the store returns them, and re-reads the log when woken (a
cancel, a review), or else every POLL_S when nothing runs and every RESYNC_S when attempts run
or tasks wait for agent slots, in case a wake was lost. A restarted runner therefore resumes
where the last one stopped: finished tasks stay finished, and attempts that never reported are
closed as lost and retried with new attempt ids.

Scheduling: ready tasks start in file order, at most `max_parallel` at once per mission and at
most `max_concurrency` per agent across missions (agent slots, first come first served: a task
refused one asks again after SLOT_RETRY_S and keeps its place in line); a task whose paths overlap a
running task's waits (and the deferral is recorded); failed attempts retry after exponential
backoff until `max_attempts`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agentcoord.actors.agents import AgentOutcome, AgentRun
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest
from agentcoord.actors.task_writer import TaskChangeWriter
from agentcoord.errors import ConflictError, InvalidInputError, NoEligibleAgentError
from agentcoord.mission_view import FOLDED_TOPICS, MissionView, TaskView
from agentcoord.planning import PlanningError, PlanResult
from agentcoord.policy import ActionRequest, Decision, Effect
from agentcoord.reviews import ReviewVerdict
from agentcoord.states import MissionState, TaskState
from agentcoord.store import Database
from agentcoord.store import missions as store
from agentcoord.store.agents import latest_session
from agentcoord.store.events import Event
from agentcoord.store.reviews import count_awaiting_review, lock_mission, record_review
from agentcoord.store.task_changes import (
    AttemptEnd,
    PolicyRecord,
    TaskChange,
    Transition,
    apply_task_changes,
)

log = logging.getLogger(__name__)

ACTOR = "mission"
BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 10.0
BUDGET_RULE = "budget-hard-stop"
"""The rule id a hard budget's denial is recorded under."""
CANCEL_GRACE_S = 1.0
"""How long a cancelled attempt may take to stop by itself before its worker is killed."""
SIMULATED_REVIEWER = "simulated reviewer"
"""Who reviews a simulated agent's result: its own seeded verdict, never a person."""
POLL_S = 1.0
"""How long a runner waits for an attempt to end before it looks again, and how often a runner
with nothing running re-reads its log."""
SLOT_RETRY_S = 0.2
"""How soon a task refused an agent slot asks again: the pool keeps its place in line that long."""
RESYNC_S = 5.0
"""How often a busy runner (attempts running, or tasks waiting for agent slots) re-reads its log
when nothing woke it: the fallback should a wake (cancel, review) be lost. Its own writes it
folds as it makes them. At 50 missions most runners wait for slots much of the time, and
re-reading every POLL_S then made a host read logs about once a second per mission."""


@dataclass(frozen=True)
class RouteChoice:
    """The agent the routing service picked for a task."""

    agent: str
    decision_id: str
    reason: str


class MissionPorts(Protocol):
    """What a Mission needs from the outside world (Ray and gRPC in production, fakes in tests)."""

    async def check_policy(self, request: ActionRequest) -> Decision: ...

    async def route(self, mission_id: str, task: TaskView) -> RouteChoice: ...

    async def check_budget(self, mission_id: str, agent: str) -> tuple[bool, str]: ...

    async def acquire_agent_slot(self, agent: str, attempt_id: str, *, waiter: str) -> bool: ...

    async def release_agent_slot(self, attempt_id: str) -> None: ...

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]: ...

    def cancel(self, attempt: Awaitable[AttemptReport], *, force: bool) -> None: ...

    async def plan(self, mission_id: str, goal: str) -> PlanResult: ...


@dataclass
class _Start:
    """What the checks decided for one task of a round, before it is written."""

    task: TaskView
    decision: Decision | None
    """The policy decision on a new task (None for a routed one: it was decided when routed)."""
    attempt_id: str
    agent: str
    route_reason: str = ""
    final: tuple[TaskState, str] | None = None
    """Set when the task ends here (policy denied it, or no agent can take it): state and reason."""
    allowed: bool = True
    why: str = ""
    granted: bool = False
    number: int = 0
    session: str | None = None

    @property
    def launch(self) -> bool:
        return self.final is None and self.allowed and self.granted


@dataclass(frozen=True)
class _Finish:
    """What an ended attempt means for its task, before it is written."""

    task: TaskView
    attempt_id: str
    outcome: AgentOutcome
    summary: str
    error: str
    target: TaskState
    reason: str
    verdict: str


@dataclass(frozen=True)
class _InFlight:
    task_id: str
    attempt_id: str
    handle: Awaitable[AttemptReport]


class MissionRunner:
    """Drives one mission to a terminal state."""

    def __init__(
        self, *, mission_id: str, db: Database, ports: MissionPorts, writer: TaskChangeWriter | None = None
    ) -> None:
        """`writer` writes its task changes; a host passes the one all its runners share."""
        self._mission_id = mission_id
        self._db = db
        self._ports = ports
        self._writer = writer or TaskChangeWriter(db)
        self._log = MissionView(mission_id)  # the settled part of the log, folded once
        self._view = self._log
        self._in_flight: dict[asyncio.Future[AttemptReport], _InFlight] = {}
        self._not_before: dict[str, float] = {}
        self._deferrals: set[tuple[str, str]] = set()
        self._recorded: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._stale = True
        """Whether others may have written since the last refresh (woken, or a poll is due)."""
        self._refreshed_at = 0.0
        self._slot_wait = False
        """Whether the last round left a task waiting for an agent slot (ask again after SLOT_RETRY_S)."""

    @property
    def view(self) -> MissionView:
        return self._view

    def wake(self) -> None:
        """Re-read the log now (e.g. the mission was cancelled) instead of at the next poll."""
        self._wake.set()

    async def refresh(self) -> MissionView:
        """Fold events written since the last refresh into the view, this runner's own writes included."""
        async with self._db.connection() as conn:  # one statement: no transaction needed
            events, horizon = await store.mission_log(
                conn, self._mission_id, after=self._log.position, topics=FOLDED_TOPICS
            )
        self._view = self._log.advance(events, horizon=horizon)
        self._stale = False
        self._refreshed_at = time.monotonic()
        return self._view

    def _fold_own(self, events: list[Event]) -> None:
        """Fold events this runner just wrote, without reading them back.

        They are provisional (an earlier-ordered event of someone else's transaction may still
        commit), like the unsettled ones of a refresh: the next refresh folds them for good.
        They come after everything the view holds (their transaction took its id after the
        view's last read), so they are folded on top of it, into a copy of the settled log.
        """
        if not events:
            return
        if self._view is self._log:
            self._view = self._log.advance(events, horizon=0)  # nothing settles: a copy
        else:
            self._view.apply_all(events)

    @property
    def _refresh_due(self) -> bool:
        """Others may have written: woken, or a poll is due (RESYNC_S while busy, else POLL_S)."""
        interval = RESYNC_S if self._in_flight or self._slot_wait else POLL_S
        return self._stale or time.monotonic() - self._refreshed_at >= interval

    async def run(self) -> MissionState:
        """Run until every reachable task is finished; return the mission's final state."""
        view = await self.refresh() if self._refresh_due else self._view  # the host may have just read it
        if view.state.is_terminal:
            return view.state
        if view.state is MissionState.CREATED:
            await self._set_mission(MissionState.PLANNING)
        if self._view.state is MissionState.PLANNING:
            if not self._view.tasks and not await self._plan():
                return MissionState.FAILED
            await self._set_mission(MissionState.RUNNING)
        await self._close_lost_attempts()
        while True:
            if await self._run_ready_tasks() is MissionState.CANCELLED:
                return MissionState.CANCELLED
            final = await self._conclude()
            if final is not None:
                return final
            # A review came in just as the mission was about to wait for reviews: run what it freed.

    async def _run_ready_tasks(self) -> MissionState | None:
        """Start tasks as they become ready until nothing runs or can start; CANCELLED if cancelled."""
        while True:
            # Our own writes are folded as they are made; only a wake or a poll can bring news from others.
            view = await self.refresh() if self._refresh_due else self._view
            if view.state is MissionState.CANCELLED:
                await self._abort_in_flight("mission cancelled")
                return MissionState.CANCELLED
            if view.settings.on_failure == "fail_fast" and self._failures():
                await self._abort_in_flight(f"stopped by fail_fast after: {'; '.join(self._failures())}")
                return None
            self._slot_wait = False
            startable, waiting = self._startable()
            if startable:
                waiting |= not await self._start_round(startable)
            if not self._in_flight and not waiting:
                return None
            await self._wait_for_progress()

    async def _plan(self) -> bool:
        """Ask a planning agent for the tasks of a goal-only mission; False if no valid plan came."""
        try:
            result = await self._ports.plan(self._mission_id, self._view.goal)
        except (PlanningError, NoEligibleAgentError, InvalidInputError) as exc:
            await self._set_mission(MissionState.FAILED, reason=f"planning failed: {exc}")
            return False
        async with self._db.transaction() as conn:
            await store.insert_planned_tasks(
                conn, mission_id=self._mission_id, tasks=result.tasks, rejected=result.rejected, actor=ACTOR
            )
        await self.refresh()
        return True

    # -- scheduling ---------------------------------------------------------------------------

    def _startable(self) -> tuple[list[TaskView], bool]:
        """Tasks that may start now, and whether others are ready but held back for now."""
        view = self._view
        done = {t.spec.id for t in view.ordered_tasks() if t.state.is_success}
        busy = {f.task_id for f in self._in_flight.values()}
        running_paths = {f.task_id: view.task(f.task_id).spec.action.paths for f in self._in_flight.values()}
        candidates = [t for t in view.ordered_tasks() if t.state is TaskState.ROUTED and t.spec.id not in busy]
        candidates += [
            t for t in view.ordered_tasks()
            if t.state is TaskState.PENDING and all(dep in done for dep in t.spec.depends_on)
        ]
        capacity = view.settings.max_parallel - len(self._in_flight)
        now = time.monotonic()
        selected: list[TaskView] = []
        waiting = False
        for task in candidates:
            if capacity <= 0:
                return selected, True
            if self._not_before.get(task.spec.id, 0.0) > now:
                waiting = True
                continue
            blocker = next(
                (other for other, paths in running_paths.items() if paths_overlap(task.spec.action.paths, paths)), None
            )
            if blocker is not None:
                self._deferrals.add((task.spec.id, blocker))
                waiting = True
                continue
            selected.append(task)
            running_paths[task.spec.id] = task.spec.action.paths
            capacity -= 1
        return selected, waiting

    async def _wait_for_progress(self) -> None:
        await self._record_deferrals()
        timeout = POLL_S
        if self._slot_wait:
            # On a tick shared by every runner of the process, so a host's waiting tasks ask
            # together: one AgentPool call per tick instead of one per mission.
            timeout = SLOT_RETRY_S - time.monotonic() % SLOT_RETRY_S
        if self._not_before:
            timeout = min(timeout, max(0.0, min(self._not_before.values()) - time.monotonic()))
        self._wake.clear()
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait([*self._in_flight, waker], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
        finished = [(future, self._in_flight.pop(future)) for future in done if future in self._in_flight]
        if finished:
            await self._finish(finished)
        if waker in done:
            self._stale = True

    async def _record_deferrals(self) -> None:
        new = sorted(self._deferrals - self._recorded)
        if not new:
            return
        async with self._db.transaction() as conn:
            for task_id, blocker in new:
                await store.record_deferral(
                    conn, mission_id=self._mission_id, task_id=task_id, blocked_by=blocker,
                    paths=list(self._view.task(task_id).spec.action.paths), actor=ACTOR,
                )
        self._recorded.update(new)

    # -- one task -----------------------------------------------------------------------------

    async def _start_round(self, tasks: list[TaskView]) -> bool:
        """Check, route and launch a round of tasks; False if one must wait (its agent has no free slot).

        The checks (policy, routing, budget, agent slot) of the round's tasks run concurrently
        (the ports batch them); what they decided is then written as one statement for the
        whole round (policy decisions, routed, attempts started), so a round costs one round
        trip on its way to running.
        """
        starts = await asyncio.gather(*(self._check_start(task) for task in tasks))
        written = [(start, change) for start in starts if (change := self._start_change(start)) is not None]
        result = await self._writer.write([change for _, change in written])
        for (start, _), done in zip(written, result.applied, strict=True):
            if start.launch and done is not None:
                start.number = done.attempts
                if start.number > 1:  # a retry continues the agent's last session where its CLI can resume
                    async with self._db.connection() as conn:
                        start.session = await latest_session(
                            conn, mission_id=self._mission_id, task_id=start.task.spec.id, agent=start.agent
                        )
        self._fold_own(result.events)
        for start in starts:
            if start.launch:
                self._launch(start)
        return all(start.granted or not start.allowed or start.final for start in starts)

    async def _check_start(self, task: TaskView) -> _Start:
        """Ask what may happen to `task` now; nothing is written yet.

        A new task is checked against policy and routed. A routed one (waiting for a slot, or a
        retry) passed policy when it was routed; it only needs a slot, then the budget: a task
        that keeps waiting for a slot costs one batched slot request per try, nothing more.
        """
        start = _Start(task, None, attempt_id=str(uuid.uuid4()), agent=task.agent)
        if task.state is TaskState.PENDING:
            start.decision = await self._ports.check_policy(self._action(task))
            if start.decision.effect is Effect.DENY:
                log.info("task blocked by policy", extra={"mission_id": self._mission_id, "task_id": task.spec.id})
                start.final = (TaskState.BLOCKED_BY_POLICY, start.decision.reason)
                return start
            try:
                choice = await self._ports.route(self._mission_id, task)
            except NoEligibleAgentError as exc:
                start.final = (TaskState.FAILED, str(exc))
                return start
            start.agent, start.route_reason = choice.agent, choice.reason
        start.granted = await self._ports.acquire_agent_slot(
            start.agent, start.attempt_id, waiter=f"{self._mission_id}/{task.spec.id}"
        )
        self._slot_wait |= not start.granted
        if start.granted:
            start.allowed, start.why = await self._ports.check_budget(self._mission_id, start.agent)
            if not start.allowed:
                start.granted = False
                await self._ports.release_agent_slot(start.attempt_id)
        return start

    def _start_change(self, start: _Start) -> TaskChange | None:
        """What `_check_start` decided for one task, as the change to write; None if nothing changes."""
        task = start.task
        steps: list[Transition | PolicyRecord] = []
        if task.state is TaskState.PENDING:
            assert start.decision is not None  # every new task is checked
            steps.append(self._policy_record(task, start.decision))
            if start.final is not None:
                steps.append(Transition(start.final[0], start.final[1]))
                return self._change(task, steps)
            steps.append(Transition(
                TaskState.ROUTED, start.route_reason, agent=start.agent,
                extra={"review_required": start.decision.effect is Effect.REQUIRE_REVIEW},
            ))
        if not start.allowed:
            # A spent hard budget is recorded as a policy denial like any other.
            budget = Decision(Effect.DENY, (BUDGET_RULE,), f"deny by {BUDGET_RULE}: {start.why}")
            steps += [self._policy_record(task, budget), Transition(TaskState.BLOCKED_BY_POLICY, budget.reason)]
        elif start.granted:
            steps.append(Transition(TaskState.RUNNING))
            return self._change(task, steps, starts=start.attempt_id, agent=start.agent)
        return self._change(task, steps) if steps else None

    def _launch(self, start: _Start) -> None:
        task = start.task
        run = AgentRun(
            attempt_id=start.attempt_id, mission_id=self._mission_id, task_id=task.spec.id,
            attempt_number=start.number, goal=self._view.goal, description=task.spec.description,
            capabilities=task.spec.capabilities,
            resume_session_id=start.session or "", context=self._view.context,
        )
        handle = self._ports.launch(AttemptRequest(agent=start.agent, run=run))
        self._in_flight[asyncio.ensure_future(handle)] = _InFlight(task.spec.id, start.attempt_id, handle)

    def _policy_record(self, task: TaskView, decision: Decision) -> PolicyRecord:
        return PolicyRecord(
            decision_id=str(uuid.uuid4()), action=self._action_payload(task), effect=decision.effect.value,
            rule_ids=decision.rule_ids, reason=decision.reason, actor="policy-checker",
        )

    def _change(
        self, task: TaskView, steps: list[Transition | PolicyRecord], *, starts: str | None = None, agent: str = "",
        ends: AttemptEnd | None = None,
    ) -> TaskChange:
        return TaskChange(self._mission_id, task.spec.id, task.state, tuple(steps), actor=ACTOR, starts=starts,
                          agent=agent, ends=ends)

    async def _finish(self, finished: list[tuple[asyncio.Future[AttemptReport], _InFlight]]) -> None:
        """Record the attempts that ended together, in one statement."""
        results = [self._result(future, attempt) for future, attempt in finished]
        for _, attempt in finished:
            await self._ports.release_agent_slot(attempt.attempt_id)
        changes = [
            self._change(result.task, [Transition(result.target, result.reason, extra={"attempt_id": result.attempt_id})],
                         ends=AttemptEnd(result.attempt_id, result.outcome.value, result.summary, result.error))
            for result in results
        ]
        # A simulated agent's result comes with its simulated reviewer's verdict, recorded with it;
        # a review a policy rule requires still waits for a person.
        reviewed = [r.target is TaskState.AWAITING_REVIEW and bool(r.verdict) and not r.task.review_required
                    for r in results]
        if not any(reviewed):
            self._fold_own((await self._writer.write(changes)).events)
            return
        async with self._db.transaction() as conn:  # the results and their verdicts, together
            written = await apply_task_changes(conn, changes)
            for result, review, done in zip(results, reviewed, written.applied, strict=True):
                if review and done is not None:  # not when the attempt was already recorded (a cancel closed it first)
                    await record_review(
                        conn, review_id=f"sim-{result.attempt_id}", mission_id=self._mission_id,
                        task_id=result.task.spec.id, verdict=ReviewVerdict(result.verdict), reviewer=SIMULATED_REVIEWER,
                        reason="" if result.verdict == ReviewVerdict.ACCEPTED.value else "simulated rejection",
                        actor=ACTOR,
                    )
        await self.refresh()  # the reviews wrote events of their own

    def _result(self, future: asyncio.Future[AttemptReport], attempt: _InFlight) -> _Finish:
        """What an ended attempt means for its task; nothing is written yet."""
        rule_ids: tuple[str, ...] = ()
        verdict = ""
        try:
            report = future.result()
            outcome, summary, error, rule_ids = report.outcome, report.summary, report.error, report.policy_rule_ids
            verdict = report.simulated_verdict
        except Exception as exc:  # noqa: BLE001 -- any crash of the attempt (worker died, service down) retries only this task
            outcome, summary, error = AgentOutcome.FAILED, "", f"attempt crashed: {type(exc).__name__}: {exc}"
        task = self._view.task(attempt.task_id)
        max_attempts = self._view.settings.max_attempts
        if outcome is AgentOutcome.SUCCEEDED:
            review = task.review_required or self._view.settings.review == "all" or bool(verdict)
            target = TaskState.AWAITING_REVIEW if review else TaskState.SUCCEEDED
            reason = summary
        elif outcome is AgentOutcome.BLOCKED_BY_POLICY:
            # The agent tried a tool call policy denied (its hook stopped it): retrying would try again.
            target, reason = TaskState.BLOCKED_BY_POLICY, f"deny by {', '.join(rule_ids) or 'policy'}: {error}"
        elif task.attempts < max_attempts:
            target, reason = TaskState.ROUTED, f"retrying after attempt {task.attempts} failed: {error}"
            self._not_before[task.spec.id] = time.monotonic() + min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (task.attempts - 1))
        else:
            target, reason = TaskState.FAILED, f"failed after {task.attempts} attempts; last error: {error}"
        return _Finish(task, attempt.attempt_id, outcome, summary, error, target, reason, verdict)

    async def _close_lost_attempts(self) -> None:
        """Attempts a previous incarnation started but never heard back from are lost: retry them."""
        lost = [t for t in self._view.ordered_tasks() if t.state is TaskState.RUNNING]
        if not lost:
            return
        for task in lost:
            await self._ports.release_agent_slot(task.current_attempt_id)
        error = "attempt lost: the mission actor restarted while it ran"
        await self._writer.write([
            self._change(task, [Transition(TaskState.ROUTED, "resuming after mission restart")],
                         ends=AttemptEnd(task.current_attempt_id, AgentOutcome.FAILED.value, error=error))
            for task in lost
        ])
        await self.refresh()

    async def _abort_in_flight(self, reason: str) -> None:
        """Cancel every running attempt and record its task as failed with `reason`."""
        # Ask politely first (the executor stops its agent), then kill the workers that did not listen.
        for force, grace_s in ((False, CANCEL_GRACE_S), (True, 10.0)):
            pending = [(future, attempt) for future, attempt in self._in_flight.items() if not future.done()]
            for _, attempt in pending:
                self._ports.cancel(attempt.handle, force=force)
            if pending:
                await asyncio.wait([future for future, _ in pending], timeout=grace_s)
        changes = []
        for future, attempt in self._in_flight.items():
            future.cancel()
            await self._ports.release_agent_slot(attempt.attempt_id)
            changes.append(self._change(self._view.task(attempt.task_id), [Transition(TaskState.FAILED, reason)],
                                        ends=AttemptEnd(attempt.attempt_id, AgentOutcome.FAILED.value, error=reason)))
        self._in_flight.clear()
        await self._writer.write(changes)  # an attempt that ended by itself meanwhile keeps its result
        await self.refresh()

    def _failures(self) -> list[str]:
        return [
            f"task {t.spec.id} {t.state.value}" for t in self._view.ordered_tasks()
            if t.state.is_terminal and not t.state.is_success
        ]

    async def _conclude(self) -> MissionState | None:
        """Record how the mission ended (or that it waits for reviews); None if a review just came in."""
        tasks = self._view.ordered_tasks()
        if all(t.state.is_success for t in tasks):
            target, reason = MissionState.COMPLETED, f"all {len(tasks)} tasks succeeded"
        elif any(t.state is TaskState.AWAITING_REVIEW for t in tasks) and not (
            self._view.settings.on_failure == "fail_fast" and self._failures()
        ):
            return await self._await_reviews()  # a verdict may still free (or rework) the rest
        else:
            problems = [
                f"task {t.spec.id} {t.state.value}: {t.reason}" for t in tasks
                if t.state.is_terminal and not t.state.is_success
            ]
            unreached = [t.spec.id for t in tasks if t.state in (TaskState.PENDING, TaskState.ROUTED)]
            if unreached:
                problems.append(f"not run: {', '.join(unreached)}")
            target, reason = MissionState.FAILED, "; ".join(problems)
        try:
            await self._set_mission(target, reason=reason)
        except ConflictError:
            return (await self.refresh()).state  # cancelled at the last moment: the log has the final word
        log.info("mission %s", target.value, extra={"mission_id": self._mission_id})
        return target

    async def _await_reviews(self) -> MissionState | None:
        """Park the mission until reviews arrive; the review that frees work restarts it."""
        if self._view.state is MissionState.AWAITING_REVIEW:
            return MissionState.AWAITING_REVIEW  # a restarted run: nothing to do until a review
        async with self._db.transaction() as conn:
            state = MissionState((await lock_mission(conn, self._mission_id))["state"])
            if state is MissionState.RUNNING and await count_awaiting_review(conn, self._mission_id):
                await store.set_mission_state(
                    conn, mission_id=self._mission_id, current=state, target=MissionState.AWAITING_REVIEW,
                    reason="results wait for review", actor=ACTOR,
                )
        view = await self.refresh()
        if view.state is MissionState.RUNNING:
            return None
        log.info("mission %s", view.state.value, extra={"mission_id": self._mission_id})
        return view.state

    # -- writes -------------------------------------------------------------------------------

    async def _set_mission(self, target: MissionState, *, reason: str = "") -> None:
        async with self._db.transaction() as conn:
            event = await store.set_mission_state(
                conn, mission_id=self._mission_id, current=self._view.state, target=target, reason=reason, actor=ACTOR
            )
        self._fold_own([event])

    def _action(self, task: TaskView) -> ActionRequest:
        action = task.spec.action
        return ActionRequest(
            kind=action.kind, environment=action.environment, paths=action.paths, command=action.command,
            agent=task.agent, mission_id=self._mission_id, task_id=task.spec.id,
        )

    @staticmethod
    def _action_payload(task: TaskView) -> dict[str, object]:
        action = task.spec.action
        return {"kind": action.kind, "environment": action.environment, "paths": list(action.paths),
                "command": action.command}


def paths_overlap(first: Sequence[str], second: Sequence[str]) -> bool:
    """True when two path sets may touch the same file: equal, nested directories, or glob matches."""
    return any(_overlap(a.rstrip("/"), b.rstrip("/")) for a in first for b in second)


def _overlap(a: str, b: str) -> bool:
    return (
        a == b or a.startswith(b + "/") or b.startswith(a + "/")
        or fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)
    )
