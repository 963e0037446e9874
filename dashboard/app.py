"""The Panel dashboard: live missions, the tasks of one mission, spend by agent and by mission,
budgets against their limits with the latest budget alerts, the review queue with what routing
has learned from reviews, and the audit log's size.

`create_dashboard` builds the view of one browser session; inside a server session it re-reads
the database every second and updates the existing widgets in place (only those whose data
changed), so the page is never rebuilt. `serve_dashboard` runs the app on a background thread
for `agentcoord up`; `panel serve dashboard/app.py` serves it from a checkout.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from functools import partial
from pathlib import Path
from typing import Any

import panel as pn
import polars as pl
from bokeh.models import ColumnDataSource, DataRange1d, FactorRange, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure
from panel.io.server import get_server
from tornado.ioloop import IOLoop

from agentcoord.config import Config
from agentcoord.dashboard.data import Snapshot, SnapshotReader
from agentcoord.errors import InvalidInputError, ServiceUnavailableError, StoreError
from agentcoord.money import format_usd
from agentcoord.states import MissionState
from agentcoord.store import EmbeddedPostgres, migrate, start_embedded_postgres

log = logging.getLogger(__name__)

TITLE = "AgentCoordinator"
REFRESH_PERIOD_MS = 1000
"""How often a live session re-reads the database."""


class Dashboard(pn.viewable.Viewer):
    """One session's dashboard: widgets built once, then refreshed in place from snapshots.

    The widgets are attributes so a server (or a test) can see what the session shows:
    `summary`, `error_alert`, `missions_table`, `tasks_title`, `tasks_table`,
    `agent_spend_table`, `mission_spend_table`, `spend_chart` (+ `spend_chart_source`),
    `budgets_table`, `budget_alerts_table`, `review_queue_table`, `acceptance_table`, `audit_line`.
    """

    def __init__(self, reader: SnapshotReader, **params: Any) -> None:
        super().__init__(**params)
        self._reader = reader
        self._mission_id: str | None = None
        self._shown: dict[str, pl.DataFrame] = {}
        empty = Snapshot.empty()
        self.summary = pn.pane.Markdown(sizing_mode="stretch_width")
        self.error_alert = pn.pane.Alert(
            alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.missions_table = _table(_missions_view(empty))
        self.missions_table.on_click(self._on_mission_click)
        self.tasks_title = pn.pane.Markdown("### Tasks")
        self.tasks_table = _table(_tasks_view(empty))
        self.agent_spend_table = _table(_agents_view(empty))
        self.mission_spend_table = _table(_mission_spend_view(empty))
        self.spend_chart_source = ColumnDataSource(
            data={"agent": [], "cost_usd": [], "cost_text": []}
        )
        self.spend_chart = _spend_chart(self.spend_chart_source)
        self.budgets_table = _table(_budgets_view(empty))
        self.budget_alerts_table = _table(_budget_alerts_view(empty))
        self.review_queue_table = _table(_review_queue_view(empty))
        self.acceptance_table = _table(_acceptance_view(empty))
        self.audit_line = pn.pane.Markdown(sizing_mode="stretch_width")
        self._layout = pn.Column(
            pn.pane.Markdown(f"# {TITLE}"),
            self.summary,
            self.error_alert,
            pn.pane.Markdown("### Missions (click one to see its tasks)"),
            self.missions_table,
            self.tasks_title,
            self.tasks_table,
            pn.Row(
                pn.Column(
                    pn.pane.Markdown("### Spend by agent"),
                    self.agent_spend_table,
                    pn.pane.Bokeh(self.spend_chart),
                ),
                pn.Column(pn.pane.Markdown("### Spend by mission"), self.mission_spend_table),
                sizing_mode="stretch_width",
            ),
            pn.Row(
                pn.Column(pn.pane.Markdown("### Budgets (current period)"), self.budgets_table),
                pn.Column(pn.pane.Markdown("### Latest budget alerts"), self.budget_alerts_table),
                sizing_mode="stretch_width",
            ),
            pn.Row(
                pn.Column(
                    pn.pane.Markdown("### Review queue (`agentcoord review accept|reject MISSION TASK`)"),
                    self.review_queue_table,
                ),
                pn.Column(
                    pn.pane.Markdown("### Acceptance by agent and capability (routing divides price by the estimate)"),
                    self.acceptance_table,
                ),
                sizing_mode="stretch_width",
            ),
            self.audit_line,
            sizing_mode="stretch_width",
        )
        self.refresh()

    def __panel__(self) -> pn.Column:
        return self._layout

    def refresh(self) -> None:
        """Re-read the database and update the widgets whose data changed."""
        try:
            snapshot = self._reader.read(mission_id=self._mission_id)
        except StoreError as exc:
            log.warning("dashboard refresh failed: %s", exc)
            self.error_alert.object = f"Database unavailable: {exc}"
            self.error_alert.visible = True
            return
        self.error_alert.visible = False
        self._render(snapshot)

    def select_mission(self, mission_id: str | None) -> None:
        """Show the tasks of `mission_id` (None: of the newest mission) from now on."""
        self._mission_id = mission_id
        self.refresh()

    def close(self) -> None:
        """Release the database connection (the session is gone)."""
        self._reader.close()

    def _on_mission_click(self, event: Any) -> None:
        shown = self._shown.get("missions")
        if shown is not None and 0 <= event.row < shown.height:
            self.select_mission(str(shown["mission_id"][event.row]))

    def _render(self, snapshot: Snapshot) -> None:
        missions = snapshot.missions
        running = missions.filter(pl.col("state") == MissionState.RUNNING.value).height
        self.summary.object = (
            f"**{missions.height}** missions shown, **{running}** running · "
            f"total spend **{format_usd(snapshot.total_cost_micro_usd)}**"
        )
        self._show("missions", self.missions_table, _missions_view(snapshot))
        self.tasks_title.object = f"### Tasks of {_mission_label(snapshot)}"
        self._show("tasks", self.tasks_table, _tasks_view(snapshot))
        if self._show("agents", self.agent_spend_table, _agents_view(snapshot)):
            self._update_chart(snapshot.spend_by_agent)
        self._show("mission_spend", self.mission_spend_table, _mission_spend_view(snapshot))
        self._show("budgets", self.budgets_table, _budgets_view(snapshot))
        self._show("budget_alerts", self.budget_alerts_table, _budget_alerts_view(snapshot))
        self._show("review_queue", self.review_queue_table, _review_queue_view(snapshot))
        self._show("acceptance", self.acceptance_table, _acceptance_view(snapshot))
        audit = snapshot.audit
        latest = audit.latest_at.isoformat(timespec="seconds") if audit.latest_at else "never"
        self.audit_line.object = (
            f"Audit log: **{audit.entries}** entries · latest recorded {latest}"
        )

    def _show(self, name: str, table: pn.widgets.Tabulator, frame: pl.DataFrame) -> bool:
        """Put `frame` into `table` unless it already shows exactly that; True if it changed."""
        previous = self._shown.get(name)
        if previous is not None and previous.equals(frame):
            return False
        self._shown[name] = frame
        table.value = frame.to_pandas()
        return True

    def _update_chart(self, spend: pl.DataFrame) -> None:
        agents = spend["agent"].to_list()
        # Bar heights are the one place dollars become floats: drawing needs numbers.
        heights = (spend["cost_micro_usd"] / 1_000_000).to_list()
        texts = spend["cost_text"].to_list()
        self.spend_chart_source.data = {"agent": agents, "cost_usd": heights, "cost_text": texts}
        self.spend_chart.x_range.factors = agents


def create_dashboard(config: Config) -> Dashboard:
    """The dashboard for one session, reading `config.database.url`.

    Inside a server session it refreshes every REFRESH_PERIOD_MS and closes its connection when
    the session ends; elsewhere (a notebook, a test) call `refresh()` yourself.
    """
    url = config.database.url
    if url is None:
        raise InvalidInputError(
            "the dashboard needs a database URL; start the embedded server first",
            source="config",
            field="database.url",
        )
    dashboard = Dashboard(SnapshotReader(url))
    document = pn.state.curdoc
    if document is not None and document.session_context is not None:
        pn.state.add_periodic_callback(dashboard.refresh, period=REFRESH_PERIOD_MS)
        pn.state.on_session_destroyed(lambda _context: dashboard.close())
    return dashboard


class DashboardServer:
    """The dashboard served by a Bokeh server on a background thread (see `serve_dashboard`)."""

    def __init__(self, config: Config, *, port: int, address: str) -> None:
        self.port = port
        self.address = address
        self._config = config
        self._sessions: set[Dashboard] = set()
        self._sessions_lock = threading.Lock()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, name=f"dashboard-{port}", daemon=True)

    @property
    def url(self) -> str:
        """Where a browser finds the dashboard."""
        return f"http://{self.address}:{self.port}/"

    def sessions(self) -> list[Dashboard]:
        """The dashboards of the open sessions (each page load opens one), i.e. what they show."""
        with self._sessions_lock:
            return list(self._sessions)

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop serving, wait for the thread to end, and close every session's connection."""
        if self._loop is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("dashboard server thread did not stop within %ss", timeout_s)
        for dashboard in self.sessions():
            dashboard.close()

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start the server thread and wait until it listens; its errors are raised here."""
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ServiceUnavailableError(f"dashboard server did not start within {timeout_s}s")
        if isinstance(self._failure, OSError):
            raise InvalidInputError(
                f"cannot serve on {self.address}:{self.port}: {self._failure}",
                source="config",
                field="dashboard_port",
            ) from self._failure
        if self._failure is not None:
            raise self._failure

    def _new_session(self) -> Dashboard:
        dashboard = create_dashboard(self._config)
        with self._sessions_lock:
            self._sessions.add(dashboard)
        pn.state.on_session_destroyed(lambda _context: self._forget(dashboard))
        return dashboard

    def _forget(self, dashboard: Dashboard) -> None:
        with self._sessions_lock:
            self._sessions.discard(dashboard)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        io_loop = IOLoop.current()
        try:
            self._server = get_server(
                self._new_session,
                port=self.port,
                address=self.address,
                websocket_origin=[f"{self.address}:{self.port}"],
                loop=io_loop,
                start=False,
                show=False,
                verbose=False,
                title=TITLE,
            )
            self._server.start()
        except Exception as exc:  # noqa: BLE001 - re-raised by start() in the caller's thread
            self._failure = exc
            self._ready.set()
            io_loop.close(all_fds=True)
            return
        self._loop = loop
        self._ready.set()
        log.info("dashboard serving at %s", self.url)
        try:
            io_loop.start()
        finally:
            io_loop.close(all_fds=True)

    async def _shutdown(self) -> None:
        self._server.stop()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        asyncio.get_running_loop().stop()


def serve_dashboard(config: Config, *, port: int, address: str = "127.0.0.1") -> DashboardServer:
    """Serve the dashboard at http://address:port/ from a background thread; port 0 picks one.

    Returns once the server accepts connections; call `.stop()` on the result to shut it down.
    """
    if config.database.url is None:
        raise InvalidInputError(
            "the dashboard needs a database URL", source="config", field="database.url"
        )
    server = DashboardServer(config, port=port or _free_port(address), address=address)
    server.start()
    return server


def _free_port(address: str) -> int:
    # Chosen before the server starts because the websocket origin allowlist names the port.
    family = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _missions_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.missions.select(
        "name",
        "state",
        pl.format("{}/{}", "tasks_done", "tasks_total").alias("tasks done"),
        "reason",
        "updated_at",
        "created_at",
        "mission_id",
    )


def _tasks_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.tasks.select("task_id", "state", "agent", "attempts", "reason")


def _agents_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.spend_by_agent.select(
        "agent", pl.col("cost_text").alias("spend"), "attempts", "input_tokens", "output_tokens"
    )


def _mission_spend_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.spend_by_mission.select(
        pl.col("mission_name").alias("mission"),
        pl.col("cost_text").alias("spend"),
        "attempts",
        "input_tokens",
        "output_tokens",
        "mission_id",
    )


def _budgets_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.budgets.select(
        "budget", pl.col("spent_text").alias("spent"), pl.col("soft_text").alias("soft limit"),
        pl.col("hard_text").alias("hard limit"), "status", pl.col("period_start").alias("since"),
    )  # fmt: skip


def _budget_alerts_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.budget_alerts.select(
        pl.col("raised_at").alias("raised"), "budget", "level",
        pl.col("limit_text").alias("limit"), pl.col("spent_text").alias("spent"),
    )  # fmt: skip


def _review_queue_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.review_queue.select(
        pl.col("waiting_since").alias("waiting since"), pl.col("mission_name").alias("mission"),
        pl.col("mission_id").alias("mission id"), pl.col("task_id").alias("task"), "agent",
        pl.col("summary").alias("result"),
    )


def _acceptance_view(snapshot: Snapshot) -> pl.DataFrame:
    return snapshot.acceptance.select(
        "agent", "capability", "accepted", "reviewed",
        pl.col("rate").round(2).alias("observed"), pl.col("estimate").round(2).alias("estimate"),
    )


def _mission_label(snapshot: Snapshot) -> str:
    if snapshot.mission_id is None:
        return "(no missions yet)"
    names = snapshot.missions.filter(pl.col("mission_id") == snapshot.mission_id)["name"]
    return f"{names[0]} ({snapshot.mission_id})" if len(names) else snapshot.mission_id


def _table(frame: pl.DataFrame) -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(
        frame.to_pandas(),
        disabled=True,
        selectable=False,
        show_index=False,
        layout="fit_data_stretch",
        sizing_mode="stretch_width",
        max_height=320,
    )


def _spend_chart(source: ColumnDataSource) -> Any:
    chart = figure(
        x_range=FactorRange(),
        y_range=DataRange1d(start=0),
        height=240,
        sizing_mode="stretch_width",
        title="Spend by agent (USD)",
        toolbar_location=None,
        tools="",
    )
    chart.vbar(x="agent", top="cost_usd", width=0.7, source=source)
    chart.add_tools(HoverTool(tooltips=[("agent", "@agent"), ("spend", "@cost_text")]))
    chart.yaxis.formatter = NumeralTickFormatter(format="$0,0.00[00]")
    return chart


def _start_embedded(data_dir: Path) -> EmbeddedPostgres:
    embedded = start_embedded_postgres(data_dir)
    migrate(embedded.url)
    return embedded


def _config_for_panel_serve() -> Config:
    """Config from the environment; without DATABASE_URL, the embedded server (once per process)."""
    config = Config.from_env()
    if config.database.url is not None:
        return config
    data_dir = config.database.data_dir
    key = f"agentcoord.dashboard.embedded:{data_dir}"
    embedded = pn.state.as_cached(key, partial(_start_embedded, data_dir))
    return config.with_database_url(embedded.url)


if __name__.startswith("bokeh"):
    create_dashboard(_config_for_panel_serve()).servable(title=TITLE)
