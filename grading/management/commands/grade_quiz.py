"""Grade answer sheets from the command line: the same pipeline as the web and API.

python manage.py grade_quiz --org demo --standard 3 sheet1.jpg sheet2.jpg
python manage.py grade_quiz --org demo --standard 3 --sync scan.pdf     # in this process, no worker needed
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError, connection
from django_tenants.utils import schema_context

from grading.models import Submission
from grading.services import accept_upload, start_grading, submissions_for_grading
from grading.uploads import check_files
from jobs.models import BackgroundJob, JobStatus
from jobs.running import run_inline
from organizations.models import Organization, User
from quizmarker.errors import DomainError


class Command(BaseCommand):
    help = "Upload answer sheets for an organization, extract and grade them, and print the results."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="Images (PNG, JPEG, GIF, WebP) or PDFs of answer sheets")
        parser.add_argument("--org", required=True, help="The organization's slug, e.g. demo")
        parser.add_argument("--standard", type=int, help="Care Certificate standard (1–15); default: as detected")
        parser.add_argument("--user", help="Email of the assessor to act as (default: the organization's owner)")
        parser.add_argument("--sync", action="store_true", help="Run the jobs in this process instead of on workers")
        parser.add_argument("--timeout", type=int, default=1800, help="Seconds to wait for the workers")

    def handle(self, *args, files, org, standard, user, sync, timeout, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug “{org}”.")
        actor = self._user(organization, user)
        uploads = []
        for name in files:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"No such file: {name}")
            uploads.append(SimpleUploadedFile(path.name, path.read_bytes()))
        with schema_context(organization.schema_name):
            try:
                checked = check_files(uploads)
                upload = accept_upload(
                    organization=organization, user=actor, files=checked, standard_id=standard, enqueue=not sync
                )
                self.stdout.write(f"Reading {len(checked)} file(s)… (job {upload.pk})")
                self._finish(upload, sync, timeout)
                submissions = submissions_for_grading(organization, upload_job_id=upload.pk)
                grading = start_grading(
                    organization=organization,
                    user=actor,
                    submissions=submissions,
                    standard_id=standard,
                    enqueue=not sync,
                )
                self.stdout.write(f"Grading {len(submissions)} script(s)… (job {grading.pk})")
                self._finish(grading, sync, timeout)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            for submission in Submission.objects.filter(pk__in=[s.pk for s in submissions]).select_related("student"):
                self._print(submission)

    def _user(self, organization, email):
        if email:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                raise CommandError(f"No user {email}.")
            return user
        owner = organization.memberships.filter(role="owner").select_related("user").first()
        return owner.user if owner else User.objects.filter(is_superuser=True).first()

    def _finish(self, job: BackgroundJob, sync: bool, timeout: int) -> None:
        if sync:
            run_inline(job)
        deadline = time.monotonic() + timeout
        last = None
        database_down = False
        while True:
            try:
                job.refresh_from_db()
            except (OperationalError, InterfaceError):
                # A database restart while we wait is not the job's failure: the workers ride it out, so do we.
                if not database_down:
                    self.stderr.write("  The database is not answering; waiting for it to come back…")
                database_down = True
                connection.close()
                if time.monotonic() > deadline:
                    raise CommandError(f"The database did not answer within {timeout} s.") from None
                time.sleep(1)
                continue
            database_down = False
            if (job.progress, job.current_step) != last:
                last = (job.progress, job.current_step)
                self.stdout.write(f"  {job.progress:3d}%  {job.current_step}")
            if job.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Job {job.pk} is still {job.status} after {timeout} s; is a worker running?")
            time.sleep(0.5)
        if job.status != JobStatus.COMPLETED:
            raise CommandError(f"Job {job.pk} {job.status}: {job.error_message or job.current_step}")

    def _print(self, submission: Submission) -> None:
        who = submission.student.full_name if submission.student else "Unnamed learner"
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(f"{who} — Standard {submission.standard}"))
        for q in submission.questions.order_by("number"):
            score = "needs review" if q.effective_score is None else f"{_n(q.effective_score)} / {_n(q.max_score)}"
            self.stdout.write(f"Q{q.number}. {q.question_text}")
            self.stdout.write(f"    Answer:   {q.answer_text or '(blank)'}")
            self.stdout.write(f"    Score:    {score}" + ("   ⚑ " + q.review_reason if q.needs_review else ""))
            if q.feedback:
                self.stdout.write(f"    Feedback: {q.feedback}")
        if submission.total_score is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Total: {_n(submission.total_score)} / {_n(submission.max_score)} ({submission.percentage:.0f}%)"
                )
            )
        else:
            self.stdout.write(self.style.WARNING("Total: pending — some answers need a person to mark them."))


def _n(value) -> str:
    """1.50 → 1.5, 2.00 → 2."""
    return f"{value.normalize():f}"
