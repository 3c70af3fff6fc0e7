"""The operator's surface of a node: a REST and WebSocket API (FastAPI), Prometheus metrics and
the dashboard. ``app.create_app`` builds it over a ``control.NodeControl`` (a running paper or live
node) and/or a ``runs.StoredRuns`` (the run store); ``server`` serves it in the node's event loop."""
