"""The mission front desk: validate, store, hand over to the supervisor, take reviews, answer questions.

Plain domain code; the gRPC servicer translates protobuf to and from these calls.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from agentcoord.errors import ConflictError, InvalidInputError, NoEligibleAgentError
from agentcoord.forecast import Forecast, forecast_mission
from agentcoord.mission_view import MissionView
from agentcoord.missions import MissionSpec
from agentcoord.money import format_usd
from agentcoord.reviews import Review, ReviewVerdict, check_review_input
from agentcoord.services.routing.router import Router
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store import missions as store
from agentcoord.store.database import Connection
from agentcoord.store.events import Event
from agentcoord.store.forecast import load_cost_history
from agentcoord.store.missions import MissionRecord
from agentcoord.store.reviews import ReviewQueueItem, record_review, review_queue

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

WATCH_POLL_S = 0.2

MissionSignal = Callable[[str], Awaitable[None]]


class MissionDesk:
    """Creates missions exactly once per request id, starts, cancels and watches them."""

    def __init__(
        self, db: Database, *, router: Router, start_mission: MissionSignal, wake_mission: MissionSignal
    ) -> None:
        self._db = db
        self._router = router
        self._start_mission = start_mission
        self._wake_mission = wake_mission

    async def create(
        self, spec: MissionSpec, *, request_id: str = "", allow_over_budget: bool = False
    ) -> tuple[MissionRecord, bool]:
        """Forecast, store and start a mission; a repeated request_id returns the first mission.

        With a budget, a mission whose forecast P90 exceeds it is refused (ConflictError) unless
        `allow_over_budget`; the forecast is stored with the mission to compare with the actual.
        """
        created = False
        async with self._db.transaction() as conn:
            mission_id = await store.find_mission_id_by_request(conn, request_id) if request_id else None
            if mission_id is None:
                forecast = await self._forecast(conn, spec)
                budget = spec.settings.budget_micro_usd
                if forecast is not None and budget is not None and forecast.over_budget(budget) and not allow_over_budget:
                    raise ConflictError(
                        f"forecast P90 {format_usd(forecast.p90_micro_usd)} (P50 {format_usd(forecast.p50_micro_usd)})"
                        f" exceeds the budget {format_usd(budget)}; raise budget_usd or allow over budget"
                    )
                mission_id = str(uuid.uuid4())
                await store.insert_mission(
                    conn, mission_id=mission_id, request_id=request_id or None, spec=spec, actor="mission-service"
                )
                if forecast is not None:
                    await store.set_forecast(
                        conn, mission_id=mission_id, p50_micro_usd=forecast.p50_micro_usd,
                        p90_micro_usd=forecast.p90_micro_usd,
                    )
                created = True
        # Started after commit (and again on replay, which is idempotent) so no mission is stranded.
        await self._start_mission(mission_id)
        return await self.get(mission_id), created

    async def _forecast(self, conn: Connection, spec: MissionSpec) -> Forecast | None:
        """P50/P90 cost from similar past tasks; None for goal-only missions (nothing to price yet)."""
        if not spec.tasks:
            return None
        history = await load_cost_history(conn, capability_sets=[t.capabilities for t in spec.tasks])
        try:
            return forecast_mission(spec.tasks, router=self._router, history=history)
        except NoEligibleAgentError:
            return None  # the runner fails that task with the routing reason; no price to forecast

    async def get(self, mission_id: str) -> MissionRecord:
        async with self._db.transaction() as conn:
            return await store.get_mission(conn, mission_id)

    async def list(
        self, *, state: MissionState | None = None, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[MissionRecord], str]:
        """One page of missions, newest first, and the token for the next page ('' at the end)."""
        if page_size < 0 or page_size > MAX_PAGE_SIZE:
            raise InvalidInputError(f"must be between 0 and {MAX_PAGE_SIZE}", field="page_size")
        limit = page_size or DEFAULT_PAGE_SIZE
        before = _decode_token(page_token) if page_token else None
        async with self._db.transaction() as conn:
            missions = await store.list_missions(conn, state=state, limit=limit + 1, before=before)
        if len(missions) <= limit:
            return missions, ""
        last = missions[limit - 1]
        return missions[:limit], _encode_token(last.created_at, last.mission_id)


    async def cancel(self, mission_id: str, *, reason: str = "") -> MissionRecord:
        """Record the mission as cancelled (idempotent), then stop its running attempts.

        The store is the record: the mission's runner also notices at its next poll if the signal
        to it is lost. Cancelling a mission that already completed or failed is a conflict.
        """
        async with self._db.transaction() as conn:
            mission = await store.get_mission(conn, mission_id)
            if mission.state is MissionState.CANCELLED:
                return mission
            if mission.state.is_terminal:
                raise ConflictError(f"mission {mission_id} already {mission.state.value}; nothing to cancel")
            await store.set_mission_state(
                conn, mission_id=mission_id, current=mission.state, target=MissionState.CANCELLED,
                reason=reason or "cancelled on request", actor="mission-service",
            )
        await self._wake_mission(mission_id)
        return await self.get(mission_id)

    async def review(
        self, mission_id: str, task_id: str, *, verdict: ReviewVerdict | None, reviewer: str, reason: str = "",
        review_id: str = "",
    ) -> tuple[Review, MissionRecord, bool]:
        """Record a verdict on a task awaiting review; return it, the mission, and whether it is new.

        The mission is then driven on (its rework or the tasks the acceptance freed); a repeated
        review_id returns the first review and changes nothing.
        """
        checked = check_review_input(verdict=verdict, reviewer=reviewer, reason=reason)
        async with self._db.transaction() as conn:
            review, recorded = await record_review(
                conn, review_id=review_id or str(uuid.uuid4()), mission_id=mission_id, task_id=task_id,
                verdict=checked, reviewer=reviewer.strip(), reason=reason.strip(), actor="mission-service",
            )
        await self._start_mission(mission_id)  # the run that parked the mission may have ended
        await self._wake_mission(mission_id)  # or it is still running and waits for news
        return review, await self.get(mission_id), recorded

    async def review_queue(self, *, limit: int = 0) -> tuple[tuple[ReviewQueueItem, MissionRecord], ...]:
        """Tasks waiting for a review, longest waiting first, each with its mission."""
        if limit < 0 or limit > MAX_PAGE_SIZE:
            raise InvalidInputError(f"must be between 0 and {MAX_PAGE_SIZE}", field="limit")
        async with self._db.transaction() as conn:
            items = await review_queue(conn, limit=limit or DEFAULT_PAGE_SIZE)
            missions = {m: await store.get_mission(conn, m) for m in {item.mission_id for item in items}}
        return tuple((item, missions[item.mission_id]) for item in items)

    async def watch(self, mission_id: str, *, from_seq: int = 0) -> AsyncIterator[tuple[int, Event, MissionState]]:
        """The mission's events after `from_seq`, then live ones, until it has ended and gone quiet.

        Yields (seq, event, state after it). seq is the event's place in the mission's log
        (1 for the first): only settled events are streamed, and their order never changes once
        settled (see `agentcoord.store.events`), so a seq always names the same event, and a
        client resumes without gaps or repeats by passing the last seq it received.
        """
        if from_seq < 0:
            raise InvalidInputError("must not be negative", field="from_seq")
        await self.get(mission_id)  # NotFoundError for unknown missions
        view = MissionView(mission_id)
        seq = 0
        while True:
            async with self._db.transaction() as conn:
                events = await store.mission_events(conn, mission_id, after=view.position)
            for event in events:
                view.apply(event)
                seq += 1
                if seq > from_seq:
                    yield seq, event, view.state
            if not events:
                if view.state.is_terminal:
                    return
                await asyncio.sleep(WATCH_POLL_S)


def _encode_token(created_at: datetime, mission_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{mission_id}".encode()).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        created_at, mission_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), mission_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("is not a token this service issued", field="page_token") from exc
