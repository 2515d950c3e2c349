"""Sub-commands of the `dispatcher` console command, one module each.

Each module has `register(subparsers)`, which adds its parser(s) and sets `handler` to a
function `(args, settings) -> exit status`. A handler raises `UserError` for anything the
user can fix; `dispatcher.cli` prints it as one line on standard error and exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dispatcher.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


class UserError(Exception):
    """Something the user can fix: printed as one line, exit status 1."""
