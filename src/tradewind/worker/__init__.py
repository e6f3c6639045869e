"""The worker role: claims a task instance, runs it in a child process, reports what happened."""
