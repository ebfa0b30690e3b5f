"""What grading announces (see ``quizmarker.events``: sent on commit, receivers connect in their app's ``ready()``).
Webhooks (``integrations``) listen."""

from __future__ import annotations

from django.dispatch import Signal

submissions_graded = Signal()
"""A grading job graded its scripts (sent once, after the transaction that saved the grades and completed the job).
``sender`` is the ``Submission`` class; keyword arguments:

- ``organization_id`` (int): the organization;
- ``job_id`` (UUID): the grading job;
- ``user_id`` (int or None): who started it;
- ``result`` (dict): the job's result: ``submission_ids``, ``submissions`` (per script: ``id``, ``total_score``,
  ``max_score``, ``percentage``, ``needs_review``), ``standard_id``, ``mark_scheme`` ...
"""

submission_reviewed = Signal()
"""A person set a question's score, feedback or marking points. ``sender`` is the ``Submission`` class; keyword
arguments:

- ``schema_name`` (str): the organization's schema (the submission lives there);
- ``submission_id`` (UUID): the submission;
- ``question_number`` (int): the question changed.
"""
