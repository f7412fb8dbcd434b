"""`make bench`: the workers' throughput, latency and memory, side by side with the ceiling.

Run from the repository root: `python -m bench [--quick|--medium|--full]`. See
docs/PERFORMANCE.md for what each figure means and the latest real run.
"""
