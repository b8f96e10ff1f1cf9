"""Reading a CSV file the way small shops save them, and reporting on it.

UTF-8 with or without BOM, comma- or semicolon-separated (spreadsheets in
much of Europe use ";"), header names in any case and spacing, every value
stripped. Each record keeps the line it starts on, so a problem can be shown
where the owner will find it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


class CsvFileError(Exception):
    """The file as a whole cannot be read; the message says why."""


@dataclass(frozen=True)
class Record:
    line: int
    values: dict[str, str]  # every expected column, "" when blank or absent
    problem: str | None = None  # set when the row cannot be split into columns


def read_records(path: Path, columns: tuple[str, ...], required: tuple[str, ...]) -> Iterator[Record]:
    """The non-blank records of `path`, values stripped; columns not listed are ignored."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvFileError(f"cannot read the file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f'line {line} is not UTF-8 text; save the file as "CSV UTF-8" and import it again'
        ) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    # skipinitialspace: in `a, "b; c"` the quote still starts a quoted value.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError("the file is empty") from None
    names = [name.strip().lower().replace(" ", "_") for name in header]
    missing = [column for column in required if column not in names]
    if missing:
        raise CsvFileError(
            f"missing column(s) {', '.join(missing)}; expected a header like: {','.join(columns)}"
        )
    duplicated = sorted({name for name in names if name and names.count(name) > 1})
    if duplicated:
        raise CsvFileError(f"column(s) {', '.join(duplicated)} appear more than once in the header")

    end_of_previous = reader.line_num
    for row in reader:
        # A quoted value may span lines: the record starts after the previous one ended.
        line, end_of_previous = end_of_previous + 1, reader.line_num
        values = [value.strip() for value in row]
        if not any(values):
            continue
        present = dict(zip(names, values))
        cells = {column: present.get(column, "") for column in columns}
        if any("\x00" in value for value in cells.values()):
            # Not text; PostgreSQL refuses it in any query, so it stops here.
            yield Record(line, cells, "a value contains a NUL character")
            continue
        if len(values) > len(names) and any(values[len(names) :]):
            yield Record(
                line,
                cells,
                f"{len(values)} values but the header has {len(names)} columns "
                "(a comma inside a value needs quotes)",
            )
            continue
        yield Record(line, cells)


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int  # 0: the file as a whole
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    file: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    # Rows imported, but with something deliberately left as it was.
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.imported + self.updated + self.unchanged

    def summary(self) -> str:
        return (
            f"{self.file}: {self.imported} imported, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected"
        )

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append(RowProblem(self.file, line, reason))

    def warn(self, line: int, reason: str) -> None:
        self.warnings.append(RowProblem(self.file, line, reason))

    def count(self, *, created: bool, changed: bool) -> None:
        if created:
            self.imported += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1
