"""Reading and writing roster tables as CSV or XLSX files.

CSV is read as UTF-8 (with or without a byte-order mark) and, failing that, as GB18030, the
encoding Chinese Excel uses for "CSV". It is written as UTF-8 with a byte-order mark so
Excel shows the Chinese correctly. XLSX is read from its first sheet; numbers typed into
cells (a phone, a room) come back as their digits.

Rows are numbered as the spreadsheet shows them (the header is normally row 1). Blank rows
are skipped but keep their numbers.
"""

from __future__ import annotations

import csv
import io
import warnings
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from services.roster import RosterInputError, Table

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def format_for(path: Path, default: FileFormat = FileFormat.csv) -> FileFormat:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("xlsx", "xlsm"):
        return FileFormat.xlsx
    if suffix == "csv":
        return FileFormat.csv
    return default


def read_table(path: Path) -> Table:
    """The table in a CSV or XLSX file (told apart by content, not by name)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RosterInputError(f"找不到文件：{path}", f"file not found: {path}") from None
    except IsADirectoryError:
        raise RosterInputError(f"这是一个文件夹：{path}", f"not a file: {path}") from None
    except OSError as error:
        raise RosterInputError(
            f"无法读取文件：{path}", f"cannot read {path}: {error.strerror}"
        ) from None
    if data.startswith(OLE_MAGIC):
        raise RosterInputError(
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV",
            "old .xls files are not supported: save as .xlsx or CSV",
        )
    rows = _xlsx_rows(data, path) if data.startswith(ZIP_MAGIC) else _csv_rows(data, path)
    return _table(rows, path)


def _table(rows: list[list[str]], path: Path) -> Table:
    numbered = [(n, cells) for n, cells in enumerate(rows, start=1)]
    filled = [(n, cells) for n, cells in numbered if any(c.strip() for c in cells)]
    if not filled:
        raise RosterInputError(f"文件是空的：{path}", f"the file is empty: {path}")
    header_row, header = filled[0]
    return Table(header=header, rows=filled[1:], header_row=header_row)


def _csv_rows(data: bytes, path: Path) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterInputError(
            f"无法识别文件编码：{path}（请存为 UTF-8 或 GB18030 的 CSV，或 .xlsx）",
            f"unreadable text encoding in {path}: use UTF-8 or GB18030 CSV, or .xlsx",
        )
    if "\x00" in text:
        raise RosterInputError(f"文件不是 CSV 或 .xlsx：{path}", f"not a CSV or XLSX file: {path}")
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as error:
        raise RosterInputError(
            f"CSV 格式有误：{path}", f"malformed CSV in {path}: {error}"
        ) from None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _xlsx_rows(data: bytes, path: Path) -> list[list[str]]:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it does not keep; irrelevant here.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                return [
                    [_text(value) for value in row] for row in sheet.iter_rows(values_only=True)
                ]
            finally:
                workbook.close()
    except Exception as error:  # a damaged workbook fails in many ways (zip, XML, openpyxl)
        raise RosterInputError(
            f"无法读取 Excel 文件：{path}（文件可能已损坏）",
            f"cannot read the Excel file {path}: {type(error).__name__}",
        ) from None


def write_table(table: Table, path: Path, file_format: FileFormat) -> None:
    try:
        if path.parent != Path():
            path.parent.mkdir(parents=True, exist_ok=True)
        if file_format is FileFormat.csv:
            _write_csv(table, path)
        else:
            _write_xlsx(table, path)
    except OSError as error:
        raise RosterInputError(
            f"无法写入文件：{path}", f"cannot write {path}: {error.strerror}"
        ) from None


def _write_csv(table: Table, path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(table.header)
        writer.writerows(cells for _, cells in table.rows)


def _write_xlsx(table: Table, path: Path, title: str = "住户名册") -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(table.header)
    for _, cells in table.rows:
        sheet.append(cells)
    widths = [len(h) * 2 + 2 for h in table.header]
    for row in sheet.iter_rows(min_row=2):
        for index, cell in enumerate(row):
            # Text stays text: a value starting with "=" must not turn into a formula.
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
            widths[index] = max(widths[index], len(str(cell.value or "")) * 2 + 2)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 40)
    sheet.freeze_panes = "A2"
    workbook.save(path)
