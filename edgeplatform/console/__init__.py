"""The browser console: a ``django.contrib.admin`` site whose every decision is the permission engine's.

``site.ConsoleSite`` is mounted at ``/console/``; apps register their kinds against
``site.console`` with ``options.ManifestAdmin`` subclasses (``iam/admin.py``, ``clusters/admin.py``).
"""
