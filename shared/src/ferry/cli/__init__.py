"""`ferry`: publish jobs to ferry's services and follow them through the status service.

Each service's commands live in their own small module (see `janitor.py`) that registers a
typer sub-app; everything shared (publishing, the status API client, following a job,
rendering) lives beside it.
"""
