"""The queue between master and workers: the Celery app, the message, the event channel.

What crosses Redis is only a task-instance key and a try number; the metastore holds the state.
"""
