"""Roster file bytes to text: UTF-8 with or without a byte-order mark, and nothing else."""

from __future__ import annotations

import codecs

from dispatcher.roster_import.problems import ProblemLog, RosterFile

SAVE_AS_CSV = 'save it from Excel as "CSV UTF-8"'

_EXCEL_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a zip), .xls (OLE)


def decode_text(file: RosterFile, log: ProblemLog) -> str | None:
    """The file's text without a byte-order mark, or None (with one error) if it is not UTF-8.

    Guessing another encoding could import "Ã…sa" for "Åsa" without a word; the user is
    told how to save the file instead, and for stray bytes on which line they are.
    """
    data = file.data
    if data.startswith(_EXCEL_SIGNATURES):
        log.error(file.name, None, f"is an Excel workbook, not a CSV file; {SAVE_AS_CSV}")
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        log.error(file.name, None, f"is UTF-16 text, not UTF-8; {SAVE_AS_CSV}")
        return None
    if b"\x00" in data:
        log.error(file.name, None, f"is not a text file (it contains NUL bytes); {SAVE_AS_CSV}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        log.error(
            file.name, line, f"is not UTF-8 text (byte 0x{byte:02X}; Latin-1?); {SAVE_AS_CSV}"
        )
        return None
    return text.removeprefix("\ufeff")
