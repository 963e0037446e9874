"""Reviews: a verdict on one attempt's result, and what verdicts teach routing.

A result waits for review when a require_review rule matched its task, when its mission says
`review: all`, or when a simulated agent reports the verdict its simulated reviewer gives (which
is recorded at once, except where a rule requires the review: that one waits for a person). An
accepted result counts as done; a rejected one is reworked by a newly routed attempt while the
mission's `max_attempts` allow, and the rejection lowers that agent's acceptance for the
task's capabilities, so the next routing decision prices it higher.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from agentcoord.errors import InvalidInputError


class ReviewVerdict(enum.Enum):
    """A reviewer's answer about one result."""

    ACCEPTED = "accepted"
    """The result is good: the task counts as done."""
    REJECTED = "rejected"
    """The result is not good enough: it is reworked, or the task ends rejected."""


@dataclass(frozen=True)
class Review:
    """A stored verdict on the result of one attempt."""

    review_id: str
    mission_id: str
    task_id: str
    attempt_id: str
    agent: str
    capabilities: tuple[str, ...]
    verdict: ReviewVerdict
    reviewer: str
    reason: str
    created_at: datetime


def check_review_input(*, verdict: ReviewVerdict | None, reviewer: str, reason: str) -> ReviewVerdict:
    """Refuse a review without a verdict, without a reviewer, or a rejection without a reason."""
    if verdict is None:
        raise InvalidInputError("must be accepted or rejected", field="verdict")
    if not reviewer.strip():
        raise InvalidInputError("must name who reviewed", field="reviewer")
    if verdict is ReviewVerdict.REJECTED and not reason.strip():
        raise InvalidInputError("a rejection needs a reason (the rework starts from it)", field="reason")
    return verdict


# Before any review, an agent is assumed to get PRIOR_ACCEPTANCE of its results accepted, with the
# weight of PRIOR_REVIEWS reviews: a few rejections move it, one does not condemn an agent.
PRIOR_ACCEPTANCE = 0.9
PRIOR_REVIEWS = 4.0


@dataclass(frozen=True)
class AcceptanceStats:
    """Reviewed and accepted results per (agent, capability)."""

    counts: Mapping[tuple[str, str], tuple[int, int]]
    """(agent, capability) -> (accepted, reviewed)."""

    @classmethod
    def empty(cls) -> AcceptanceStats:
        return cls({})

    def acceptance(self, agent: str, capabilities: Iterable[str]) -> tuple[float, int]:
        """Expected acceptance of `agent` for a task needing `capabilities`, and the reviews behind it.

        The smoothed rate (prior plus observations) of its weakest capability: a task is only as
        likely to be accepted as the hardest part of it.
        """
        rates = [self._rate(agent, capability) for capability in capabilities]
        return min(rates, default=(PRIOR_ACCEPTANCE, 0))

    def _rate(self, agent: str, capability: str) -> tuple[float, int]:
        accepted, reviewed = self.counts.get((agent, capability), (0, 0))
        return (accepted + PRIOR_ACCEPTANCE * PRIOR_REVIEWS) / (reviewed + PRIOR_REVIEWS), reviewed
