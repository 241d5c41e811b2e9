"""Streaming readers: each turns a binary file into `(line, value)` records without ever holding
the whole file in memory. `value` is the decoded JSON value (or a dict of CSV cells), or a
`RowError` when the record itself cannot be read. `line` is the 1-based line where the record
starts (a zip member's name for image zips, see images.py)."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any

import orjson
from django.utils.translation import gettext_noop

from fairlabel.messages import Message as M

CHUNK_BYTES = 1 << 20
# One task's row may not exceed this: it keeps memory bounded on a file with no line breaks, and
# nobody can label a 10 MB text anyway.
MAX_ROW_BYTES = 10 * 1024 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RowError:
    message: str


class FileError(Exception):
    """The file cannot be read any further (structure broken); carries the line it stopped at."""

    def __init__(self, line: int | str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class ByteCounter:
    """Wraps the file to count the bytes read, for the progress bar."""

    __slots__ = ("bytes_read", "stream")

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.bytes_read = 0

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        chunk = self.stream.read(size)
        self.bytes_read += len(chunk)
        return chunk


# Byte-order marks of the Unicode encodings Excel, Notepad and PowerShell also save text in.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class _Prefixed:
    """A stream whose first bytes were already read: they come back first."""

    __slots__ = ("head", "stream")

    def __init__(self, stream, head: bytes) -> None:
        self.stream, self.head = stream, head

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.stream.read(size)


class _Transcoded:
    """A UTF-16 or UTF-32 stream read as UTF-8, chunk by chunk (memory stays flat). Invalid
    code units survive as surrogates, which the row encoder refuses with the row's line."""

    __slots__ = ("decoder", "stream")

    def __init__(self, stream, encoding: str) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        while True:
            raw = self.stream.read(size)
            text = self.decoder.decode(raw, final=not raw)
            if text or not raw:  # an empty read means the end to every reader here
                return text.encode("utf-8", "surrogatepass")


def _wide_without_bom(head: bytes) -> str | None:
    """UTF-16 without a byte-order mark: ASCII text has a zero in every other byte."""
    sample = head[: 512 - 512 % 2] if len(head) >= 2 else b""
    if len(sample) < 4:
        return None
    odd, even = sample[1::2], sample[0::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def utf8_stream(stream: ByteCounter):
    """The file as UTF-8 bytes: UTF-8 as it is; UTF-16 and UTF-32 (with a byte-order mark, or
    UTF-16 without one, as spreadsheet and Windows tools save "Unicode text") decoded."""
    head = stream.read(CHUNK_BYTES)
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            return _Transcoded(_Prefixed(stream, head[len(bom) :]), encoding)
    if not head.startswith(BOM):
        encoding = _wide_without_bom(head)
        if encoding is not None:
            return _Transcoded(_Prefixed(stream, head), encoding)
    return _Prefixed(stream, head)


def _too_long() -> RowError:
    return RowError(
        M(gettext_noop("this row is larger than %(n)s MB"), n=MAX_ROW_BYTES // (1024 * 1024))
    )


def lines(stream: ByteCounter) -> Iterator[tuple[int, bytes | RowError]]:
    """Physical lines (without the newline), numbered from 1; a leading BOM is dropped. A line
    longer than MAX_ROW_BYTES yields a RowError and is skipped without being kept in memory."""
    pending = b""
    base = 0
    first = True
    skipping = False
    while True:
        chunk = stream.read(max(CHUNK_BYTES, len(BOM)) if first else CHUNK_BYTES)
        if not chunk:
            break
        if first:
            first = False
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk = chunk[cut + 1 :]
            skipping = False
        if pending:
            chunk = pending + chunk
        parts = chunk.split(b"\n")
        pending = parts.pop()
        if parts:
            yield from enumerate(parts, base + 1)
            base += len(parts)
        if len(pending) > MAX_ROW_BYTES:
            base += 1
            yield base, _too_long()
            pending = b""
            skipping = True
    if pending and not skipping:
        yield base + 1, pending


# orjson reads lists and objects 1024 levels deep but writes at most 254: the stored limit.
MAX_DEPTH = 254
TOO_DEEP = M(
    gettext_noop("nested too deeply: a task may hold lists and objects at most %(n)s levels deep"),
    n=MAX_DEPTH,
)


def json_problem(exc: Exception, raw: bytes) -> str:
    """A plain reason for a value orjson refused."""
    text = str(exc)
    if text.startswith("depth limit exceeded"):
        return TOO_DEEP
    if "UTF-8" in text or "utf-8" in text:
        return M(gettext_noop("not valid UTF-8 text (save the file as UTF-8)"))
    if "Input is a zero-length, empty document" in text:
        return M(gettext_noop("empty value"))
    # The parser's own words ("invalid literal, expected 'true'") say nothing to an owner.
    return M(
        gettext_noop(
            'not valid JSON: a task is written like {"text": "…"}; check its quotes, '
            "commas and brackets"
        )
    )


def encode_problem(exc: Exception) -> str:
    """A plain reason why a row read from the file cannot be stored as JSON."""
    text = str(exc)
    if text.startswith("Recursion limit"):
        return TOO_DEEP
    if "UTF-8" in text:
        return M(gettext_noop("not valid UTF-8 text (save the file as UTF-8)"))
    if "64-bit" in text:
        return M(gettext_noop("a number is too large to store (more than 64 bits)"))
    return M(gettext_noop("cannot be stored as JSON (%(why)s)"), why=text)


def _utf8_line(raw: bytes, start_line: int) -> int:
    """The line of the first invalid UTF-8 byte in `raw`, which starts on start_line."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return start_line + raw.count(b"\n", 0, exc.start)
    return start_line


def jsonl_records(stream: ByteCounter) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    for line, raw in lines(stream):
        if raw.__class__ is RowError:
            yield line, raw
            continue
        try:
            yield line, loads(raw)
        except decode_error as exc:
            if raw.strip():
                yield line, RowError(json_problem(exc, raw))


# Outside strings only brackets, quotes and commas matter; inside, only quotes and backslashes.
_OUTSIDE = re.compile(rb'[\[\]{}",]')
_INSIDE = re.compile(rb'["\\]')
_NONSPACE = re.compile(rb"[^ \t\r\n]")


def json_list_records(stream: ByteCounter) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON list, found by a small bracket-and-string scanner over a
    sliding buffer and each decoded with orjson. A malformed element is reported and skipped; a
    broken structure (unclosed string or bracket, no list) stops the file with a FileError."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    buf = stream.read(max(CHUNK_BYTES, len(BOM)))
    if buf.startswith(BOM):
        buf = buf[len(BOM) :]
    line = 1  # the line at buf[mark]; positions asked about only move forward
    mark = 0
    pos = 0
    eof = False

    def line_at(index: int) -> int:
        nonlocal line, mark
        line += buf.count(b"\n", mark, index)
        mark = index
        return line

    def more() -> bool:
        nonlocal buf, pos, mark, eof
        if eof:
            return False
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            eof = True
            return False
        # Drop what is consumed; keep the element being scanned.
        line_at(pos)
        buf = buf[pos:] + chunk
        pos = mark = 0
        return True

    def skip_space() -> bool:
        nonlocal pos
        while True:
            found = _NONSPACE.search(buf, pos)
            if found is not None:
                pos = found.start()
                return True
            pos = len(buf)
            if not more():
                return False

    if not skip_space():
        raise FileError(1, M(gettext_noop("the file is empty")))
    if buf[pos] != ord("["):
        raise FileError(
            line_at(pos), M(gettext_noop("a JSON file must hold a list of tasks: [{...}, {...}]"))
        )
    pos += 1
    expect_value = True  # after "[" or ","
    first = True
    while True:
        if not skip_space():
            raise FileError(
                line_at(pos),
                M(gettext_noop("the file ends before the list is closed with ] (truncated JSON?)")),
            )
        ch = buf[pos]
        if ch == ord("]"):
            if expect_value and not first:
                raise FileError(line_at(pos), M(gettext_noop("a comma before ] is not JSON")))
            pos += 1
            break
        if not expect_value:
            if ch != ord(","):
                raise FileError(line_at(pos), M(gettext_noop("expected a comma between tasks")))
            pos += 1
            expect_value = True
            continue
        # Scan one element: from `start` to the comma or bracket that closes it at depth 0.
        start = pos
        scan = pos
        depth = 0
        in_string = False
        while True:
            if in_string:
                match = _INSIDE.search(buf, scan)
                if match is not None:
                    if match.group() == b'"':
                        in_string = False
                        scan = match.end()
                        continue
                    if match.end() < len(buf):  # a backslash: skip the escaped character
                        scan = match.end() + 1
                        continue
                    scan = match.start()  # the escaped character is in the next chunk
                else:
                    scan = len(buf)
            else:
                match = _OUTSIDE.search(buf, scan)
                if match is not None:
                    char = match.group()
                    scan = match.end()
                    if char == b'"':
                        in_string = True
                    elif char in b"{[":
                        depth += 1
                    elif char in b"}]":
                        if depth == 0:  # the closing bracket of the top-level list
                            break
                        depth -= 1
                    elif depth == 0:  # a comma ends the element
                        break
                    continue
                scan = len(buf)
            # The element goes on past the buffer: read more, keeping it.
            if len(buf) - start > MAX_ROW_BYTES:
                raise FileError(line_at(start), _too_long().message)
            shift = start
            pos = start
            if not more():
                if depth == 0 and not in_string:
                    raise FileError(
                        line_at(start),
                        M(
                            gettext_noop(
                                "the file ends before the list is closed with ] (truncated JSON?)"
                            )
                        ),
                    )
                raise FileError(
                    line_at(start),
                    M(gettext_noop("the file ends in the middle of a task (truncated JSON?)")),
                )
            scan -= shift
            start = 0
        end = match.start()
        raw = buf[start:end]
        element_line = line_at(start)
        pos = end
        expect_value = False
        first = False
        try:
            value = loads(raw)
        except decode_error as exc:
            problem = json_problem(exc, raw)
            if problem.startswith("not valid UTF-8"):
                element_line = _utf8_line(raw, element_line)
            yield element_line, RowError(problem)
            continue
        yield element_line, value
    if skip_space():
        raise FileError(
            line_at(pos), M(gettext_noop("unexpected content after the closing ] of the list"))
        )


def _text_lines(stream: ByteCounter) -> Iterator[str]:
    """Decoded lines for the csv module. Invalid UTF-8 survives as surrogates, which the row
    encoder refuses with the row's own line number."""
    for line, raw in lines(stream):
        if raw.__class__ is RowError:
            raise FileError(line, raw.message)
        yield raw.decode("utf-8", "surrogateescape") + "\n"


def csv_records(stream: ByteCounter) -> Iterator[tuple[int, Any]]:
    """Rows as {column: cell}; the header names the columns. Cells stay text."""
    csv.field_size_limit(MAX_ROW_BYTES)
    text = _text_lines(stream)
    first = next(text, None)
    # TSV (Label Studio's TSV export, spreadsheets' "tab-separated") is told by its header.
    delimiter = "\t" if first is not None and first.count("\t") > first.count(",") else ","
    reader = csv.reader(chain([] if first is None else [first], text), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileError(
            1, M(gettext_noop("the header row cannot be read: %(why)s"), why=str(exc))
        ) from exc
    if header is None:
        raise FileError(1, M(gettext_noop("the file is empty")))
    names = [name.strip() for name in header]
    if not any(names):
        raise FileError(1, M(gettext_noop("the first row must name the columns")))
    if "" in names:
        raise FileError(
            1,
            M(gettext_noop("column %(n)s has no name in the header row"), n=names.index("") + 1),
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FileError(
            1,
            M(
                gettext_noop("the header names these columns twice: %(names)s"),
                names=", ".join(twice),
            ),
        )
    width = len(names)
    last = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(
                last + 1, M(gettext_noop("this row cannot be read as CSV (%(why)s)"), why=str(exc))
            ) from exc
        line = last + 1
        last = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            yield (
                line,
                RowError(
                    M(
                        gettext_noop("this row has %(n)s cells; the header has %(width)s"),
                        n=len(cells),
                        width=width,
                    )
                ),
            )
            continue
        yield line, dict(zip(names, cells, strict=True))
