"""annfast's benchmark suite (not installed with the package).

* ``python -m benchmarks.compare [--quick]``: every contender side by side in one
  process, one thread each; Markdown table, JSON of every repeat, PNG plots.
* ``python -m pytest benchmarks --benchmark-only``: pytest-benchmark timings of
  each compiled kernel and of one training epoch.

See ``benchmarks/RESULTS.md`` for the latest full run.
"""
