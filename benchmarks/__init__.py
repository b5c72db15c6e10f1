"""electlog benchmarks: ratios against baselines measured in the same run.

Run ``python -m benchmarks.run`` from the repository root (``--quick`` for a smoke-sized run,
``--only NAME`` for one benchmark). See docs/benchmarks.md for what each row means and
benchmarks/RESULTS.md for the latest full run. Nothing here runs as a timed test.
"""
