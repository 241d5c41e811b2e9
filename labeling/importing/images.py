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
from django.utils.translation import gettext_noop
from PIL import Image, UnidentifiedImageError

from fairlabel.messages import Message as M
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
IMAGE_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".gif",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
}
_ALLOWED = ".jpg, .png, .gif, .webp, .bmp, .tif"
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
                    return M(
                        gettext_noop("%(format)s images are not accepted (use %(allowed)s)"),
                        format=image.format,
                        allowed=", ".join(sorted(ALLOWED_FORMATS)),
                    )
                size = image.size
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return M(gettext_noop("the image has too many pixels (possible decompression bomb)"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return M(gettext_noop("not an image (or a damaged one)"))
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
        errors.add(None, M(gettext_noop("not a zip file")))
        outcome.errors, outcome.error_count = errors.items, errors.count
        return outcome
    members = []
    skipped: list[dict] = []
    for info in archive.infolist():
        name = _member_name(info)
        if name.endswith("/") or _ignored(name):
            continue
        if posixpath.splitext(name.lower())[1] not in IMAGE_EXTENSIONS:
            # A readme or a spreadsheet beside the photos: left out, and said so.
            note = M(gettext_noop("skipped: not an image file (%(allowed)s)"), allowed=_ALLOWED)
            skipped.append(
                {
                    "line": info.filename,
                    "message": str.__str__(note),
                    "msg": note.as_json(),
                    "level": "warning",
                }
            )
            continue
        members.append((info, name))
    unpacked = sum(info.file_size for info, _name in members)
    limit = settings.FAIRLABEL_IMPORT_MAX_BYTES
    if unpacked > limit:
        errors.add(
            None,
            M(
                gettext_noop(
                    "the zip unpacks to %(size)s bytes, more than the limit of %(limit)s "
                    "(possible zip bomb)"
                ),
                size=f"{unpacked:,}",
                limit=f"{limit:,}",
            ),
        )
    if not members and not errors.count:
        errors.add(
            None,
            M(gettext_noop("the zip holds no images (%(allowed)s)"), allowed=_ALLOWED)
            if not skipped
            else M(
                gettext_noop("the zip holds no images (%(allowed)s), only: %(names)s"),
                allowed=_ALLOWED,
                names=", ".join(w["line"] for w in skipped[:5]),
            ),
        )
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
                    problem = M(
                        gettext_noop("unsafe path (absolute, or climbing out with ..): refused")
                    )
                elif info.file_size > MAX_IMAGE_BYTES:
                    problem = M(
                        gettext_noop("larger than %(n)s MB"), n=MAX_IMAGE_BYTES // (1024 * 1024)
                    )
                elif info.file_size > 1024 * 1024 and (
                    info.file_size > MAX_RATIO * max(info.compress_size, 1)
                ):
                    problem = M(
                        gettext_noop("compressed too well to be an image (possible zip bomb)")
                    )
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
                        problem = M(
                            gettext_noop("cannot be read from the zip (%(why)s)"), why=str(exc)
                        )
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
    if not errors.count:
        outcome.errors = skipped[: errors.limit]  # warnings only: the import is done
    return outcome


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
