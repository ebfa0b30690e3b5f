import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")
application = get_asgi_application()

from jobs.streams import RequestThreads  # noqa: E402 - Django is set up by get_asgi_application()

# A held-open event stream gives its request's thread back once its headers are sent (jobs/streams.py).
application = RequestThreads(application)
