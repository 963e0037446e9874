"""The one module that owns the database: embedded server, pool, migrations, queries by area.

SQL lives in named, parameterised functions in the area modules (missions, events, usage,
routing, audit); nothing outside this package writes SQL.
"""

from agentcoord.store.database import Database
from agentcoord.store.embedded import EmbeddedPostgres, start_embedded_postgres
from agentcoord.store.migrations import migrate

__all__ = ["Database", "EmbeddedPostgres", "migrate", "start_embedded_postgres"]
