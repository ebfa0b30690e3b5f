import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")
application = get_wsgi_application()


def _load_urlconfs() -> None:
    """Import every view now, while the process starts, not on its first request: the URL modules pull in DRF,
    the schema views and every app's views, ~0.2 s of CPU that a freshly started gunicorn worker would otherwise
    spend in the middle of answering someone."""
    from django.conf import settings
    from django.urls import get_resolver

    for urlconf in {settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF}:
        get_resolver(urlconf).reverse_dict  # noqa: B018 - building it imports every included URL module


_load_urlconfs()
