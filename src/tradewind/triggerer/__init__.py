"""The triggerer role: runs deferred tasks' triggers on an asyncio loop and resumes each task on a
worker when its trigger fires. ``runner`` holds the loop, ``loop`` the metastore work around it."""
