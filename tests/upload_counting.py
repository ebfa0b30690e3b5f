"""An upload handler for tests/grading/test_upload_limits.py."""

from __future__ import annotations


def _counting_upload_handler():
    from django.core.files.uploadhandler import FileUploadHandler

    class CountingUploadHandler(FileUploadHandler):
        """An upload handler placed after the limit handler in tests: counts the bytes that got past it (the ones
        the next handler would write to a temporary file), one entry per request."""

        received: list[int] = []

        def handle_raw_input(self, *args, **kwargs):
            CountingUploadHandler.received.append(0)

        def receive_data_chunk(self, raw_data, start):
            CountingUploadHandler.received[-1] += len(raw_data)
            return raw_data

        def file_complete(self, file_size):
            return None

    return CountingUploadHandler


CountingUploadHandler = _counting_upload_handler()
