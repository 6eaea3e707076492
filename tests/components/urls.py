"""The project's URLs with the components' revision endpoints in front (until the project's URLs include them)."""
from components.api.revisions import urlpatterns as revisions
from edgeplatform.urls import urlpatterns as project

urlpatterns = [*revisions, *project]
