"""`python -m dispatcher` is the same as the `dispatcher` console command."""

import sys

from dispatcher.cli import main

sys.exit(main())
