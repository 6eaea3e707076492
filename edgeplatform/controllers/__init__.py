"""The controller base every reconciled kind uses: ``ensure_*`` steps, leases, backoff, status and conditions,
the beat re-enqueue, per-cluster limits and metrics (docs/controllers.md).

Import the pieces from their modules (``base``, ``errors``, ``engine``, ``tasks``); this package imports nothing
at load time, so that its models load with the app registry.
"""
__all__: list[str] = []
