"""ChartMuseum's HTTP API in Harbor's layout: ``/chartrepo/<repo>/`` for Helm, ``/api/chartrepo/<repo>/`` for the
rest (see ``views``)."""
