"""The Panel dashboard: live missions, tasks, spend by agent and mission, audit status.

`data` holds the read-only Polars queries; `app` the Panel view, `serve_dashboard` for
`agentcoord up`, and the `panel serve dashboard/app.py` entry point. Nothing is imported here, so
importing the package stays cheap (Panel is slow to import).
"""
