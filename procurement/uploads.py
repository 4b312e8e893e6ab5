"""Files people attach (a proof of payment, photos of a return): checked before anything is kept.

Only PDF, PNG and JPEG, at most 10 MB, recognized by their first bytes and not by their name alone.
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename

from .errors import DomainError

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
MAGIC = {b"%PDF": ".pdf", b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg"}
UNREADABLE_NAME = re.compile(r"[\ufffd\x00-\x1f\x7f]")  # U+FFFD: bytes that were not UTF-8


def attachment_name(attachment: UploadedFile | None, *, field: str, fallback: str) -> str | None:
    """The name an attachment is kept under, once checked (None: no attachment). Refusals are
    DomainErrors on ``field``.

    A name that could not be read (not UTF-8, control characters, nothing left of it once
    made safe for the disk) is replaced by ``fallback`` and an extension: its own when it is an
    allowed one, else the file's kind (read from its first bytes)."""
    if attachment is None:
        return None
    name = os.path.basename(attachment.name or "")
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    unreadable = bool(UNREADABLE_NAME.search(name)) or not _disk_safe(stem)
    if attachment.size > MAX_ATTACHMENT_BYTES:
        raise DomainError("At most 10 MB.", field=field)
    head = attachment.read(8)
    attachment.seek(0)
    kind = next((e for magic, e in MAGIC.items() if head.startswith(magic)), None)
    if ext not in ATTACHMENT_TYPES and not (unreadable and kind):
        raise DomainError("Attach a PDF, PNG or JPEG file.", field=field)
    if kind is None:
        raise DomainError("This file is not a PDF, PNG or JPEG.", field=field)
    if unreadable:
        return f"{fallback}{ext if ext in ATTACHMENT_TYPES else kind}"
    return name


def _disk_safe(stem: str) -> str:
    """What the storage would keep of a file name's stem ("" when nothing)."""
    try:
        return get_valid_filename(stem)
    except SuspiciousFileOperation:
        return ""
