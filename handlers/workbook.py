"""The Excel report (/report and `haitang report`): a summary sheet, the tickets, visit coverage
by grid and the volunteers' activity. Plain, blocking code: the bot runs it in a worker thread.

Nothing about residents is written: no names, phone numbers or addresses of households.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from handlers import texts
from services.stats import Durations, Rate, Report

PERCENT = "0.0%"
WHEN = "yyyy-mm-dd hh:mm"


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Excel has no time zones: times are written as Suzhou wall-clock times."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def _header(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> None:
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str | None = None) -> Cell:
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    return cell


def _widths(sheet: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    dimensions = sheet.column_dimensions  # type: ignore[attr-defined]  # missing from the stubs
    for i, width in enumerate(widths):
        dimensions[chr(ord("A") + i)].width = width


def _summary(book: Workbook, r: Report, tz: ZoneInfo) -> None:
    f = r.figures
    sheet = book.create_sheet(texts.SHEET_SUMMARY)
    _widths(sheet, (16, 22, 10, 10, 60))
    _header(sheet, texts.SUMMARY_HEADER)

    row = texts.SUMMARY_ROWS

    def rate(name: str, value: Rate) -> None:
        sheet.append(
            [
                name,
                _cell(sheet, value.value, PERCENT),
                value.numerator,
                value.denominator,
                texts.RATE_NOTES.get(name, ""),
            ]
        )

    def hours(name: str, d: Durations, note: str) -> None:
        for label, seconds in ((row["median"], d.median), (row["p90"], d.p90)):
            value = round(seconds / 3600, 1) if seconds is not None else None
            sheet.append([row["hours"].format(name=name, label=label), value, None, d.count, note])

    sheet.append([row["scope"], texts.scope_label(f.scope_name)])
    sheet.append([row["period"], texts.period_label(f.period)])
    sheet.append([row["as_of"], _cell(sheet, _local(f.as_of, tz), WHEN)])
    sheet.append([row["received"], f.received, None, None, row["received_note"]])
    sheet.append([row["urgent"], f.urgent])
    names = texts.RATE_NAMES
    rate(names[0], f.response)
    rate(names[1], f.resolution)
    rate(names[2], f.satisfaction)
    rate(names[3], f.reopened)
    hours(row["acknowledge"], f.acknowledge, row["acknowledge_note"])
    hours(row["resolve"], f.resolve, row["resolve_note"])
    rate(row["coverage"], f.coverage_total)
    v = f.volunteers
    sheet.append([row["volunteers"], v.volunteers])
    sheet.append([row["active"], v.active, None, None, row["active_note"]])
    sheet.append([row["visits"], v.visits])
    sheet.append([row["tasks_done"], v.tasks_done])
    for rating, count in f.ratings.items():
        sheet.append([row["rating"].format(name=texts.RATING_NAMES[rating]), count])

    sheet.append([])
    statuses = list(texts.STATUS_NAMES)
    _header(sheet, [*texts.CATEGORY_HEADER, *(texts.STATUS_NAMES[s] for s in statuses)])
    for category, total in f.by_category.items():
        sheet.append(
            [
                texts.category_name(category),
                total,
                *(f.by_category_status.get((category, s), 0) for s in statuses),
            ]
        )

    sheet.append([])
    _header(sheet, texts.TREND_HEADER)
    for week in f.weeks:
        sheet.append([week.first, week.received, week.closed, week.visits])


def _tickets(book: Workbook, r: Report, tz: ZoneInfo) -> None:
    sheet = book.create_sheet(texts.SHEET_TICKETS)
    _widths(sheet, (17, 14, 10, 10, 6, 10, 17, 17, 17, 17, 17, 9, 9, 6))
    _header(sheet, texts.TICKET_HEADER)
    for t in r.tickets:
        sheet.append(
            [
                t.number,
                t.community,
                t.grid,
                texts.category_name(t.category),
                texts.YES if t.urgent else "",
                texts.STATUS_NAMES[t.status],
                *(
                    _cell(sheet, _local(moment, tz), WHEN)
                    for moment in (
                        t.created_at,
                        t.respond_by,
                        t.acknowledged_at,
                        t.resolved_at,
                        t.closed_at,
                    )
                ),
                texts.RATING_NAMES[t.rating] if t.rating else "",
                texts.YES if t.reopened else "",
                texts.YES if t.supervised else "",
            ]
        )


def _visits(book: Workbook, r: Report) -> None:
    sheet = book.create_sheet(texts.SHEET_VISITS)
    _widths(sheet, (16, 12, 10, 14, 10))
    _header(sheet, texts.VISITS_HEADER)
    for g in r.figures.coverage:
        sheet.append(
            [g.community, g.grid, g.households, g.covered, _cell(sheet, g.rate.value, PERCENT)]
        )


def _volunteers(book: Workbook, r: Report) -> None:
    sheet = book.create_sheet(texts.SHEET_VOLUNTEERS)
    _widths(sheet, (14, 16, 12, 10, 10))
    _header(sheet, texts.VOLUNTEER_HEADER)
    for v in r.volunteers:
        sheet.append([v.name, v.community, v.grid, v.visits, v.tasks_done])


def build(r: Report, tz: ZoneInfo) -> bytes:
    """The .xlsx file's bytes."""
    book = Workbook(write_only=True)
    _summary(book, r, tz)
    _tickets(book, r, tz)
    _visits(book, r)
    _volunteers(book, r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
