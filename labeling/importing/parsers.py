"""Streaming readers: each turns a binary file into `(line, value)` records without ever holding
the whole file in memory. `value` is the decoded JSON value (or a dict of CSV cells), or a
`RowError` when the record itself cannot be read. `line` is the 1-based line where the record
starts (a zip member's name for image zips, see images.py)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

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


def _too_long() -> RowError:
    return RowError(f"this row is larger than {MAX_ROW_BYTES // (1024 * 1024)} MB")


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


def json_problem(exc: Exception, raw: bytes) -> str:
    """A plain reason for a value orjson refused."""
    text = str(exc)
    if "UTF-8" in text or "utf-8" in text:
        return "not valid UTF-8 text (save the file as UTF-8)"
    if "Input is a zero-length, empty document" in text:
        return "empty value"
    detail = text.split(": line")[0]
    return f"not valid JSON ({detail})"


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
        raise FileError(1, "the file is empty")
    if buf[pos] != ord("["):
        raise FileError(line_at(pos), "a JSON file must hold a list of tasks: [{...}, {...}]")
    pos += 1
    expect_value = True  # after "[" or ","
    first = True
    while True:
        if not skip_space():
            raise FileError(
                line_at(pos), "the file ends before the list is closed with ] (truncated JSON?)"
            )
        ch = buf[pos]
        if ch == ord("]"):
            if expect_value and not first:
                raise FileError(line_at(pos), "a comma before ] is not JSON")
            pos += 1
            break
        if not expect_value:
            if ch != ord(","):
                raise FileError(line_at(pos), "expected a comma between tasks")
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
                        "the file ends before the list is closed with ] (truncated JSON?)",
                    )
                raise FileError(
                    line_at(start), "the file ends in the middle of a task (truncated JSON?)"
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
        raise FileError(line_at(pos), "unexpected content after the closing ] of the list")


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
    reader = csv.reader(_text_lines(stream))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileError(1, f"the header row cannot be read: {exc}") from exc
    if header is None:
        raise FileError(1, "the file is empty")
    names = [name.strip() for name in header]
    if not any(names):
        raise FileError(1, "the first row must name the columns")
    if "" in names:
        raise FileError(1, f"column {names.index('') + 1} has no name in the header row")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FileError(1, f"the header names these columns twice: {', '.join(twice)}")
    width = len(names)
    last = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(last + 1, f"this row cannot be read as CSV ({exc})") from exc
        line = last + 1
        last = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            yield line, RowError(f"this row has {len(cells)} cells; the header has {width}")
            continue
        yield line, dict(zip(names, cells, strict=True))
