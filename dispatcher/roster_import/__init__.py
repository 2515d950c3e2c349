"""Roster import: the units, staff and training CSV files checked and turned into a Roster.

Pure: `parse_roster_files` takes the files' bytes and returns the roster or every
problem in them; reading files and writing the store happen at the edges
(`dispatcher.commands.roster_import`, `dispatcher.store.roster_store`).
"""

from dispatcher.roster_import.contacts import Phone, normalise_email, normalise_phone
from dispatcher.roster_import.headers import detect_delimiter, normalise_header
from dispatcher.roster_import.parse import RosterParse, parse_roster_files
from dispatcher.roster_import.problems import ImportProblem, RosterFile, Severity

__all__ = [
    "ImportProblem",
    "Phone",
    "RosterFile",
    "RosterParse",
    "Severity",
    "detect_delimiter",
    "normalise_email",
    "normalise_header",
    "normalise_phone",
    "parse_roster_files",
]
