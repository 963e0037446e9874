"""Ray actors: MissionSupervisor, Mission, TaskExecutor, PolicyChecker.

Each actor is a thin `@ray.remote` shell around a plain class or function, so the logic is
tested without Ray and the Ray tests test supervision.
"""

NAMESPACE = "agentcoord"
