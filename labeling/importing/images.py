"""A zip of images: each image becomes a task whose data is {"image": URL, "name", "width",
"height"}. Files are stored through Django's default storage under
imports/<project_id>/<32 hex token>/..., and the URL is served by a permission-checked view
(labeling.importing.views.import_image). Errors are reported by member name."""

from __future__ import annotations

import io
import posixpath
import re
import time
import uuid
import warnings
import zipfile
from typing import IO

import orjson
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from PIL import Image, UnidentifiedImageError

from labeling.categories import effective_mask
from labeling.importing.loader import (
    ErrorList,
    ImportOutcome,
    Progress,
    ProgressCallback,
    _Rollback,
    project_hold,
    sink_for,
)
from labeling.models import Project

ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}
MAX_IMAGE_BYTES = 50 * 1024 * 1024
# A member that unpacks to more than this many times its compressed size (and over 1 MB) is
# refused: real photos barely compress, zip bombs compress a thousandfold.
MAX_RATIO = 200
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
_DRIVE = re.compile(r"^[A-Za-z]:")


def storage_prefix(project_id: int, token: str) -> str:
    return f"imports/{project_id}/{token}/"


def _ignored(name: str) -> bool:
    base = posixpath.basename(name.rstrip("/"))
    return name.startswith("__MACOSX/") or base.startswith(".") or base == "Thumbs.db"


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's path with "/" between folders. The zip format wants "/", but zips written
    by older Windows tools separate folders with backslashes: read them as separators, so that
    `photos\\cat.png` imports as `photos/cat.png` and `..\\x.png` is seen to climb out."""
    return info.filename.replace("\\", "/")


def _unsafe(name: str) -> bool:
    if not name or "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        return True
    return any(part in ("..", "") for part in name.split("/"))


def _image_size(content: bytes) -> tuple[int, int] | str:
    """(width, height) of a real image, or why it is not one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in ALLOWED_FORMATS:
                    return (
                        f"{image.format} images are not accepted "
                        f"(use {', '.join(sorted(ALLOWED_FORMATS))})"
                    )
                size = image.size
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "the image has too many pixels (possible decompression bomb)"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return "not an image (or a damaged one)"
    return size


def images_import(
    *,
    project: Project,
    stream: IO[bytes],
    size: int = 0,
    on_progress: ProgressCallback | None = None,
) -> ImportOutcome:
    errors = ErrorList()
    outcome = ImportOutcome()
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        errors.add(None, "not a zip file")
        outcome.errors, outcome.error_count = errors.items, errors.count
        return outcome
    members = [
        (info, name)
        for info in archive.infolist()
        if not (name := _member_name(info)).endswith("/") and not _ignored(name)
    ]
    unpacked = sum(info.file_size for info, _name in members)
    limit = settings.FAIRLABEL_IMPORT_MAX_BYTES
    if unpacked > limit:
        errors.add(
            None,
            f"the zip unpacks to {unpacked:,} bytes, more than the limit of "
            f"{limit:,} (possible zip bomb)",
        )
    if not members and not errors.count:
        errors.add(None, "the zip holds no images")
    token = uuid.uuid4().hex
    prefix = storage_prefix(project.pk, token)
    saved: list[str] = []
    last = time.monotonic()
    read = 0
    try:
        with transaction.atomic(), sink_for(project) as sink:
            project_hold(project)
            sink.slots = project.annotations_per_task
            mask = effective_mask(None, project.content_categories)
            for number, (info, name) in enumerate(members if not errors.count else [], 1):
                read += info.compress_size
                outcome.total = number
                problem = None
                if _unsafe(name):
                    problem = "unsafe path (absolute, or climbing out with ..): refused"
                elif info.file_size > MAX_IMAGE_BYTES:
                    problem = f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
                elif info.file_size > 1024 * 1024 and (
                    info.file_size > MAX_RATIO * max(info.compress_size, 1)
                ):
                    problem = "compressed too well to be an image (possible zip bomb)"
                if problem is None:
                    try:
                        with archive.open(info) as member:
                            content = member.read(MAX_IMAGE_BYTES + 1)
                    except (
                        zipfile.BadZipFile,
                        OSError,
                        NotImplementedError,
                        RuntimeError,
                        EOFError,
                    ) as exc:
                        problem = f"cannot be read from the zip ({exc})"
                    else:
                        measured = _image_size(content)
                        if isinstance(measured, str):
                            problem = measured
                if problem is not None:
                    errors.add(info.filename, problem)  # the name the owner's zip tool shows
                    sink.discard()
                    continue
                if errors.count:
                    continue
                path = "/".join(default_storage.get_valid_name(p) for p in name.split("/"))
                stored = default_storage.save(prefix + path, ContentFile(content))
                saved.append(stored)
                url = reverse(
                    "labeling:import_image", args=[project.pk, token, stored[len(prefix) :]]
                )
                width, height = measured
                data = {"image": url, "name": name, "width": width, "height": height}
                sink.add(None, orjson.dumps(data), None, mask, None)
                if len(sink.rows) >= 1000:
                    sink.flush()
                now = time.monotonic()
                if on_progress is not None and now - last >= 1.0:
                    last = now
                    on_progress(Progress(read, size, number, sink.written))
            if not errors.count:
                sink.flush()
            outcome.bytes_read = size or read
            if errors.count:
                raise _Rollback
            outcome.imported = sink.written
    except _Rollback:
        outcome.imported = 0
    except BaseException:
        _delete(saved)
        raise
    if errors.count:
        _delete(saved)
    outcome.errors, outcome.error_count = errors.items, errors.count
    return outcome


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
