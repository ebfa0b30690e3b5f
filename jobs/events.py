"""What the job engine announces (see ``quizmarker.events``: sent on commit, receivers connect in their app's
``ready()``). The engine neither knows nor waits for its listeners: webhooks (``integrations``) and any other."""

from __future__ import annotations

from django.dispatch import Signal

job_finished = Signal()
"""A job reached ``completed`` or ``failed`` (a cancelled job sends nothing). Sent with ``sender`` the
``BackgroundJob`` class and the keyword arguments:

- ``job_id`` (UUID): the job;
- ``organization_id`` (int): its organization;
- ``job_type`` (str): a ``JobType`` value (``extraction``, ``grading``, ``email``, ``scheme_import``);
- ``status`` (str): ``completed`` or ``failed``.
"""
