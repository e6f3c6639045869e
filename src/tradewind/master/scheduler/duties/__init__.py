"""The scheduler's duties: each does one kind of work over the metastore at ``now`` and returns
what it did. The loop (``scheduler/loop.py``) calls them in turn, each in its own transaction; the
run-progress and queueing duties, which a worker's follow-up shares, are in ``tradewind.scheduling``."""
