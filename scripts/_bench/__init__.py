"""The benchmark code behind `scripts/bench_import` and `scripts/bench_dispatch`.

Not part of the `dispatcher` package and never imported by it or by the tests. Results
go to standard output; with `--record` the scripts also rewrite their own section of
`docs/benchmarks.md` (see `report.record_section`). Everything runs on 127.0.0.1, in a
temporary directory that is removed at the end, also on Ctrl-C or SIGTERM.
"""
