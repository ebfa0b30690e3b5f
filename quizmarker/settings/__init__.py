"""QuizMarker settings, driven by environment variables (see .env.example); `quizmarker.settings` for Django.

Each module holds one concern and reads its own variables; a module that needs another's value (DEBUG, TESTING,
REDIS_URL, ...) imports it from that module, so the order below does not matter.
"""

from quizmarker.settings.ai import *  # noqa: F403
from quizmarker.settings.api import *  # noqa: F403
from quizmarker.settings.base import *  # noqa: F403
from quizmarker.settings.celery_jobs import *  # noqa: F403
from quizmarker.settings.database import *  # noqa: F403
from quizmarker.settings.observability import *  # noqa: F403
from quizmarker.settings.security import *  # noqa: F403
from quizmarker.settings.storage import *  # noqa: F403
