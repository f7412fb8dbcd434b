"""Dead letters an operator can work: list, show and replay what `billing.dead-letter` holds.

The dead-letter topic is the source of truth (every worker writes it through
workers/common/deadletter.py); this package reads it, and records in its own table who
replayed which dead letter, so that a replay happens once. It is a package of its own,
beside the workers rather than inside one, because dead letters come from every worker and
the same operations serve the CLI (`claimflow dead-letters`) and the report API
(workers/report/deadletters_api.py).
"""
