"""`python -m dispatcher.demo --people N --out DIR [--seed S]`: write a demo roster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from dispatcher.demo import write_demo_roster
from dispatcher.demo.fiction import MUNICIPALITY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher.demo",
        description=(
            f"Write a fictional demo roster for {MUNICIPALITY}: units.csv, staff.csv and "
            "training.csv. Its phone numbers are random: never use it with a real SMS provider."
        ),
    )
    parser.add_argument("--people", type=int, default=1200, help="how many people (default 1200)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files to")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="date the training weeks lead up to (default: today)",
    )
    args = parser.parse_args(argv)
    if args.people < 1:
        parser.error("--people must be at least 1")
    summary = write_demo_roster(args.out, people=args.people, seed=args.seed, today=args.today)
    print(summary.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
