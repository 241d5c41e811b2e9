"""Images that imported data references but a browser cannot load: Label Studio's own paths
(`/data/upload/<project>/<file>`, `/data/local-files/?d=<path>`), cloud storage URIs
(`s3://`, `gs://`, `azure-blob://`) and relative paths (`photos/cat.jpg`); a path from the
root of Fairlabel's own site (`/media-protected/...`, `/static/...`) loads as it is. The owner
resolves them with a zip of the media uploaded alongside the tasks (each referenced image is
stored as a zip's image is, and its pixel size kept), or with a base URL the files are served
from. What resolves neither way is a row error: an image is never left silently broken.

A reference is looked up in the zip by its path, then by its file name, then by the file name
without the 8-character prefix Label Studio gives uploads (`3f2a1b0c-photo.jpg`). With a base
URL, the path below Label Studio's media root (`upload/3/3f2a1b0c-photo.jpg`) or the
local-files path (`photos/cat.jpg`) is appended to it."""

from __future__ import annotations

import posixpath
import re
import uuid
import zipfile
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from labeling.importing.images import (
    MAX_IMAGE_BYTES,
    MAX_RATIO,
    _ignored,
    _image_size,
    _member_name,
    _unsafe,
    storage_prefix,
)

LOADABLE_SCHEMES = ("http", "https", "data")
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
LABEL_STUDIO_PATHS = ("/data/upload/", "/data/local-files")


class MediaProblem(Exception):
    pass


def reference_of(value: str) -> tuple[str, str] | None:
    """(path to append to a base URL, path to look up in a zip) of a reference a browser
    cannot load, or None for a URL that loads as it is."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in LOADABLE_SCHEMES:
        return None
    if (
        not scheme
        and value.startswith("/")
        and not value.startswith("//")
        and not value.startswith(LABEL_STUDIO_PATHS)
    ):
        return None  # a path on Fairlabel's own site (its media, its static files)
    if scheme:  # s3://bucket/key, gs://bucket/key, azure-blob://container/key
        key = parts.path.lstrip("/")
        return quote(unquote(key)), unquote(key)
    if parts.path.startswith("/data/local-files"):
        found = parse_qs(parts.query).get("d")
        if not found:
            raise MediaProblem(f"{value!r}: a Label Studio local-files path without ?d=")
        path = found[0].lstrip("/")
        return quote(path), path
    path = unquote(parts.path.lstrip("/"))
    if path.startswith("data/upload/"):
        path = path[len("data/") :]
    return quote(path), path


class MediaResolver:
    """Resolves one import's image references; the files it stored are listed in `saved`, for
    the caller to delete when the import rolls back."""

    Problem = MediaProblem

    def __init__(self, *, project_id: int, archive: IO[bytes] | None, base_url: str) -> None:
        self.project_id = project_id
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.token = uuid.uuid4().hex
        self.prefix = storage_prefix(project_id, self.token)
        self.saved: list[str] = []
        self.stored: dict[str, tuple[str, int, int]] = {}
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.zip: zipfile.ZipFile | None = None
        if archive is not None:
            try:
                self.zip = zipfile.ZipFile(archive)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise MediaProblem("the media file is not a zip") from exc
            self._index()

    def _index(self) -> None:
        """Every member under each of its trailing paths (`media/upload/3/a.jpg` also as
        `upload/3/a.jpg`, `3/a.jpg`, `a.jpg`) and under its name without Label Studio's upload
        prefix; a key two members share is ambiguous (None) and matches neither."""
        index: dict[str, zipfile.ZipInfo | None] = {}

        def add(key: str, info: zipfile.ZipInfo) -> None:
            index[key] = info if index.get(key, info) is info else None

        for info in self.zip.infolist():
            name = _member_name(info)
            if name.endswith("/") or _ignored(name) or _unsafe(name):
                continue
            parts = name.split("/")
            for n in range(len(parts)):
                add("/".join(parts[n:]), info)
            short = UPLOAD_PREFIX.sub("", parts[-1])
            if short != parts[-1]:
                add(short, info)
        self.index = index

    def _member(self, path: str) -> zipfile.ZipInfo | None:
        base = posixpath.basename(path)
        for key in (path, base, UPLOAD_PREFIX.sub("", base)):
            found = self.index.get(key)
            if found is not None:
                return found
        return None

    def _store(self, info: zipfile.ZipInfo, *, store: bool) -> tuple[str, int, int]:
        name = _member_name(info)
        if name in self.stored:
            return self.stored[name]
        if info.file_size > MAX_IMAGE_BYTES:
            raise MediaProblem(f"{name}: larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise MediaProblem(f"{name}: compressed too well to be an image (possible zip bomb)")
        try:
            with self.zip.open(info) as member:
                content = member.read(MAX_IMAGE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
            raise MediaProblem(f"{name}: cannot be read from the media zip ({exc})") from exc
        measured = _image_size(content)
        if isinstance(measured, str):
            raise MediaProblem(f"{name} in the media zip: {measured}")
        url = ""
        if store:
            path = "/".join(default_storage.get_valid_name(p) for p in name.split("/"))
            saved = default_storage.save(self.prefix + path, ContentFile(content))
            self.saved.append(saved)
            url = reverse(
                "labeling:import_image",
                args=[self.project_id, self.token, saved[len(self.prefix) :]],
            )
        self.stored[name] = found = (url, *measured)
        return found

    def resolve(self, data: dict[str, Any], field: str, *, store: bool = True) -> None:
        """Point data[field] at a loadable image, or raise MediaProblem. With `store` False
        (the import already failed) nothing is written: only the problems are looked for."""
        value = data.get(field)
        if not isinstance(value, str):
            return
        reference = reference_of(value)
        if reference is None:
            return
        for_url, for_zip = reference
        if self.zip is not None:
            info = self._member(for_zip)
            if info is not None:
                url, width, height = self._store(info, store=store)
                data[field] = url
                if "width" not in data and "height" not in data:
                    data["width"], data["height"] = width, height
                data.setdefault("name", posixpath.basename(_member_name(info)))
                return
            if not self.base_url:
                raise MediaProblem(f"{value!r} is not in the media zip")
        if self.base_url:
            data[field] = self.base_url + for_url
            return
        raise MediaProblem(
            f"{value!r} cannot be loaded from Fairlabel: upload the media as a zip alongside "
            "the tasks, or give the base URL the files are served from"
        )

    def discard(self) -> None:
        for name in self.saved:
            default_storage.delete(name)
        self.saved.clear()
