"""The reviewers' dashboard: a Starlette app over the watcher database (see app.py)."""
