"""Files: storage backend (filesystem or S3), static files, upload limits and the file sandbox."""

from __future__ import annotations

from pathlib import Path

from quizmarker.env import env_int, env_str
from quizmarker.settings.base import BASE_DIR, DEBUG, TESTING

# --- Files ------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".data" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where uploads, page images and subjects' reference PDFs are kept. "filesystem": MEDIA_ROOT, which the web and every
# worker must share (one host, or a shared volume). "s3": an S3-compatible bucket (django-storages), for workers on
# several hosts; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the host's role), as boto3 reads
# them. Anything else is the dotted path of a Storage class. QuizMarker reaches files only through the Storage API.
FILE_STORAGE = env_str("FILE_STORAGE", "filesystem")
_FILE_STORAGE_CLASSES = {
    "filesystem": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
}
_FILE_STORAGE_OPTIONS = {}
if FILE_STORAGE == "s3":
    _FILE_STORAGE_OPTIONS = {
        "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
        "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,  # e.g. a MinIO or Ceph gateway
        "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
        "location": env_str("AWS_S3_PREFIX", ""),  # a folder inside the bucket
        "default_acl": None,  # private objects; pages are served through our views, never by bucket URL
        "file_overwrite": False,
    }
STORAGES = {
    "default": {"BACKEND": _FILE_STORAGE_CLASSES.get(FILE_STORAGE, FILE_STORAGE), "OPTIONS": _FILE_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development and tests static files are served from the app folders, with no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
REFERENCE_PDF_DIR = Path(env_str("REFERENCE_PDF_DIR", str(BASE_DIR / "reference_pdfs")))
UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_BYTES", 16 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 20, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES + 1  # one more so we can answer "too many files" ourselves
# A whole upload request: every file at its largest, plus room for the form fields. The upload handler refuses a file
# as soon as it passes UPLOAD_MAX_FILE_BYTES and a request as soon as it passes this, writing nothing more to disk.
UPLOAD_MAX_REQUEST_BYTES = env_int(
    "UPLOAD_MAX_REQUEST_BYTES", UPLOAD_MAX_FILES * UPLOAD_MAX_FILE_BYTES + 1024 * 1024, minimum=1024
)
FILE_UPLOAD_HANDLERS = [
    "grading.upload_limits.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploaded files are opened (checked, PDFs rendered) in child processes with these limits (grading/sandbox.py).
FILE_SANDBOX_PROCESSES = env_int("FILE_SANDBOX_PROCESSES", 2, minimum=1)
FILE_SANDBOX_MEMORY_MB = env_int("FILE_SANDBOX_MEMORY_MB", 768, minimum=128)
FILE_SANDBOX_CPU_SECONDS = env_int("FILE_SANDBOX_CPU_SECONDS", 20, minimum=1)
