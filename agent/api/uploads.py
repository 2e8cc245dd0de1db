"""Multipart uploads streamed straight to disk, with every limit checked while the bytes arrive.

Starlette's form parser spools a whole request before the endpoint sees it; this reads ``request.stream()``
through python-multipart's push parser and writes each file part to its own file, so that a file over
``max_upload_mb`` is refused as soon as it passes the limit (413), a type that is not accepted is refused at its
part headers (415), and text that is not UTF-8 is refused at the first bad chunk (415).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from agent.api.errors import APIError, validation_error

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_FIELD_BYTES = 1024


def safe_filename(name: str | None, index: int) -> str:
    base = Path((name or "").replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).strip(" .")[:200]
    return base or f"upload-{index}"


@dataclass
class SavedFile:
    filename: str  # as sent (made safe)
    path: Path
    bytes: int = 0


@dataclass
class Upload:
    files: list[SavedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.name = ""
        self.file: SavedFile | None = None
        self.out: Any = None
        self.decoder: Any = None
        self.head = b""
        self.data = bytearray()


class UploadReceiver:
    def __init__(self, dest: Path, *, max_file_bytes: int, max_files: int, allowed: set[str], file_field: str = "files"):
        self.dest = dest
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.allowed = allowed
        self.file_field = file_field
        self.upload = Upload()
        self.part: _Part | None = None
        self.events: list[tuple[str, bytes]] = []

    async def receive(self, request: Request) -> Upload:
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or not params.get(b"boundary"):
            raise APIError(415, "Send the files as multipart/form-data (field `files`).",
                           type="unsupported_media_type", code="not_multipart")
        cb = {
            "on_part_begin": lambda: self.events.append(("begin", b"")),
            "on_header_field": lambda d, s, e: self.events.append(("hfield", d[s:e])),
            "on_header_value": lambda d, s, e: self.events.append(("hvalue", d[s:e])),
            "on_header_end": lambda: self.events.append(("hend", b"")),
            "on_headers_finished": lambda: self.events.append(("headers", b"")),
            "on_part_data": lambda d, s, e: self.events.append(("data", bytes(d[s:e]))),
            "on_part_end": lambda: self.events.append(("end", b"")),
        }
        parser = python_multipart.MultipartParser(params[b"boundary"], cb)
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                self._drain()
            parser.finalize()
            self._drain()
        except FormParserError:
            raise validation_error(["body"], "malformed multipart body") from None
        finally:
            if self.part is not None and self.part.out is not None:
                self.part.out.close()
        if not self.upload.files:
            raise validation_error(["body", "files"], "at least one file is required")
        return self.upload

    def _drain(self) -> None:
        events, self.events = self.events, []
        for kind, data in events:
            getattr(self, f"_on_{kind}")(data)

    def _on_begin(self, _: bytes) -> None:
        self.part = _Part()

    def _on_hfield(self, data: bytes) -> None:
        self.part.field += data

    def _on_hvalue(self, data: bytes) -> None:
        self.part.value += data

    def _on_hend(self, _: bytes) -> None:
        p = self.part
        p.headers[p.field.lower()] = p.value
        p.field, p.value = b"", b""

    def _on_headers(self, _: bytes) -> None:
        p = self.part
        _, opts = parse_options_header(p.headers.get(b"content-disposition", b""))
        p.name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in opts:
            return  # a form field
        index = len(self.upload.files)
        if p.name != self.file_field:
            raise validation_error(["body", p.name or "(unnamed)"], f"files go in the field `{self.file_field}`")
        if index >= self.max_files:
            raise validation_error(["body", "files"], f"at most {self.max_files} files per request")
        name = safe_filename(opts[b"filename"].decode("utf-8", "replace"), index)
        suffix = Path(name).suffix.lower()
        if suffix not in self.allowed:
            raise APIError(415, f"{name!r}: type {suffix or '(none)'} is not accepted; accepted: "
                           f"{', '.join(sorted(self.allowed))}.", type="unsupported_media_type",
                           code="unsupported_file_type")
        sub = self.dest / str(index)  # one folder per file keeps names unique without renaming them
        sub.mkdir(parents=True)
        p.file = SavedFile(name, sub / name)
        p.out = p.file.path.open("wb")
        p.decoder = None if suffix == ".pdf" else codecs.getincrementaldecoder("utf-8")()
        self.upload.files.append(p.file)

    def _on_data(self, data: bytes) -> None:
        p = self.part
        if p.file is None:
            p.data += data
            if len(p.data) > MAX_FIELD_BYTES:
                raise validation_error(["body", p.name], f"longer than {MAX_FIELD_BYTES} bytes")
            return
        p.file.bytes += len(data)
        if p.file.bytes > self.max_file_bytes:
            raise APIError(413, f"{p.file.filename!r} is larger than {self.max_file_bytes / 2**20:.1f} MiB.",
                           type="request_too_large", code="file_too_large")
        if len(p.head) < 8:
            p.head += data[:8]
        self._decode(p, data, final=False)
        p.out.write(data)

    def _decode(self, p: _Part, data: bytes, final: bool) -> None:
        if p.decoder is None:
            return
        try:
            p.decoder.decode(data, final=final)
        except UnicodeDecodeError:
            raise APIError(415, f"{p.file.filename!r} is not UTF-8 text.", type="unsupported_media_type",
                           code="bad_encoding") from None

    def _on_end(self, _: bytes) -> None:
        p, self.part = self.part, None
        if p.file is None:
            self.upload.fields[p.name] = p.data.decode("utf-8", "replace")
            return
        p.out.close()
        index = len(self.upload.files) - 1
        if p.file.bytes == 0:
            raise validation_error(["body", "files", index], "file is empty")
        if p.decoder is None and not p.head.startswith(b"%PDF-"):
            raise APIError(415, f"{p.file.filename!r} is not a PDF.", type="unsupported_media_type", code="bad_pdf")
        self._decode(p, b"", final=True)
