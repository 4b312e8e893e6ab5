"""Request hygiene that has to happen before anything reads the request's body."""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.utils.http import parse_header_parameters

MAX_PART_HEADER_BYTES = 16 * 1024  # Django's parser gives up on larger part headers anyway


def _as_text(header: bytes) -> bytes:
    """A part's header lines, each valid UTF-8: bytes that are not become U+FFFD."""
    lines = []
    for line in header.split(b"\r\n"):
        try:
            line.decode()
        except UnicodeDecodeError:
            line = line.decode(errors="replace").encode()
        lines.append(line)
    return b"\r\n".join(lines)


class PartHeadersAsText:
    """A multipart body read as it is, except for the header lines of its parts, which are made
    valid UTF-8.

    Django's multipart parser skips a header line it cannot decode as UTF-8 (``line.decode()``
    in ``parse_boundary_stream``): a file whose name holds other bytes (b"\\xff\\xfe.pdf") loses
    its Content-Disposition and the whole part is dropped, silently — the form sees no file.
    Made readable here, the name reaches the form with U+FFFD where the bytes were, and the
    code that stores the file knows to give it a safe name of its own.

    Parts are found by their delimiter (``--boundary``), which by definition never occurs in a
    part's content; a header block is what follows it up to the blank line.
    """

    def __init__(self, stream, boundary: bytes):
        self._stream = stream
        self._delimiter = b"--" + boundary
        self._pending = b""  # read from the stream, not looked at yet
        self._ready = b""  # looked at, to be returned
        self._in_header = False
        self._eof = False

    def _step(self) -> bool:
        """Move what can be decided from ``_pending`` to ``_ready``; False when more is needed."""
        if self._in_header:
            end = self._pending.find(b"\r\n\r\n")
            if end == -1:
                if not self._eof and len(self._pending) <= MAX_PART_HEADER_BYTES:
                    return False
                self._ready += self._pending  # no header block after all: pass it on as it is
                self._pending = b""
                self._in_header = False
                return False
            self._ready += _as_text(self._pending[:end]) + b"\r\n\r\n"
            self._pending = self._pending[end + 4 :]
            self._in_header = False
            return True
        found = self._pending.find(self._delimiter)
        if found == -1:
            keep = 0 if self._eof else len(self._delimiter) - 1  # a delimiter may straddle two reads
            cut = max(len(self._pending) - keep, 0)
            self._ready += self._pending[:cut]
            self._pending = self._pending[cut:]
            return False
        cut = found + len(self._delimiter)
        self._ready += self._pending[:cut]
        self._pending = self._pending[cut:]
        self._in_header = True
        return True

    def _fill(self, wanted: int | None) -> None:
        while (wanted is None or len(self._ready) < wanted) and not (self._eof and not self._pending):
            if not self._eof:
                chunk = self._stream.read(64 * 1024)
                self._eof = not chunk
                self._pending += chunk
            while self._step():
                pass
            if self._eof and self._pending and not self._in_header:
                self._ready += self._pending
                self._pending = b""

    def read(self, size: int | None = -1) -> bytes:
        wanted = None if size is None or size < 0 else size
        self._fill(wanted)
        if wanted is None:
            data, self._ready = self._ready, b""
        else:
            data, self._ready = self._ready[:wanted], self._ready[wanted:]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        while b"\n" not in self._ready and not (self._eof and not self._pending):
            self._fill(len(self._ready) + 1)
        end = self._ready.find(b"\n")
        end = len(self._ready) if end == -1 else end + 1
        if size is not None and size >= 0:
            end = min(end, size)
        data, self._ready = self._ready[:end], self._ready[end:]
        return data


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())


class RequestHygieneMiddleware:
    """Before any other middleware or view reads the request:

    - A NUL byte in the URL's path or query answers 400: no URL needs one, and PostgreSQL
      refuses it in any query (psycopg raises), so it must never reach a selector. (Posted
      forms refuse it field by field: Django's CharField does, and ``no_markup`` for the rest.)
    - The body of a multipart request is wrapped in ``PartHeadersAsText`` before CSRF reads
      ``request.POST``. Django offers no hook for the parser's header decoding; the request's
      input stream (``_stream``) is the one place to stand.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return HttpResponseBadRequest("A NUL byte is not allowed in a URL.", content_type="text/plain")
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/") and hasattr(request, "_stream"):
            boundary = parse_header_parameters(content_type)[1].get("boundary", "")
            try:
                boundary_bytes = boundary.encode("ascii")
            except UnicodeEncodeError:
                boundary_bytes = b""  # Django's parser refuses such a boundary itself
            if boundary_bytes:
                request._stream = PartHeadersAsText(request._stream, boundary_bytes)
        return self.get_response(request)
