"""What loops: the scheduler role — ``loop.Scheduler.tick(now)`` runs its duties (``duties/``: DAG
files, run creation, liveness; and the run-progress and queueing duties of ``tradewind.scheduling``)
and says how long to sleep; ``main`` is its entry point. The dag processor and the DAG-callback
children it starts live here too. What it decides is in ``tradewind.decisions``."""
