"""Run the jobs' retention by hand: the same two steps beat runs (jobs.retention), and say what went."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from jobs.retention import cleanup_jobs


class Command(BaseCommand):
    help = (
        "Remove expired jobs' files and input/result, then job rows, logs and sessions older than JOB_HISTORY_DAYS "
        "(the usage ledger is never touched)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only say what would be removed.")
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="HOURS",
            help="Also remove the files of jobs that finished more than HOURS ago, before their expiry.",
        )

    def handle(self, *args, dry_run: bool = False, older_than: int | None = None, **options):
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be a number of hours, 0 or more.")
        report = cleanup_jobs(older_than_hours=older_than, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
