"""The console's chart repository pages, found here by the console site; they live in ``charts.console``."""
from charts import console

__all__ = ["console"]
