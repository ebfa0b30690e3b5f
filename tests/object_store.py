"""An object store (what an S3 bucket offers through Django's Storage API) kept as flat keys in a local folder, for
tests: it has no ``path()`` and no directories — ``listdir`` derives them from the keys' prefixes, and a "folder"
exists only while a key starts with it — so code that reaches around the Storage API to the disk fails here as it
would on S3 with several worker hosts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import Storage


class ObjectStore(Storage):
    def __init__(self, location: str | None = None):
        self.root = Path(location or Path(settings.MEDIA_ROOT) / "object-store")

    def keys(self) -> list[str]:
        return sorted(unquote(p.name) for p in self.root.iterdir()) if self.root.is_dir() else []

    def _file(self, name: str) -> Path:
        return self.root / quote(name, safe="")

    def _open(self, name, mode="rb"):
        return File(self._file(name).open(mode), name=name)

    def _save(self, name, content):
        self.root.mkdir(parents=True, exist_ok=True)
        with self._file(name).open("wb") as out:
            for chunk in content.chunks():
                out.write(chunk)
        return name

    def exists(self, name):
        return self._file(name).exists()

    def delete(self, name):
        self._file(name).unlink(missing_ok=True)

    def size(self, name):
        return self._file(name).stat().st_size

    def get_modified_time(self, name):
        return datetime.fromtimestamp(self._file(name).stat().st_mtime, tz=UTC)

    def listdir(self, path):
        prefix = path.rstrip("/") + "/" if path else ""
        directories, files = set(), []
        for key in self.keys():
            if key.startswith(prefix):
                head, _, rest = key[len(prefix) :].partition("/")
                (directories.add(head) if rest else files.append(head))
        return sorted(directories), files

    def url(self, name):
        raise NotImplementedError("QuizMarker serves stored files through its own views")
