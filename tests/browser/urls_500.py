"""The project's URLs plus one that fails: the styled 500 page in a live browser test
(tests/browser/test_more_pages.py)."""
from django.urls import path

from asisteclick.urls import urlpatterns as project_urlpatterns


def fail(request):
    raise RuntimeError("a deliberate failure: the 500 page under test")


urlpatterns = [*project_urlpatterns, path("test-500/", fail)]
