"""Serving the platform in production: the gunicorn configuration, request ids, structured and access logs, and
the API's per-user rate limit."""
