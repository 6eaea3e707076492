"""Shared machinery for every platform kind: manifests, scopes, selectors, errors and the API base."""
