"""Background jobs on Huey: the queue (SQLite file by default, Redis when configured) and the worker.

This package is framework: it knows nothing of scans or reports. The product registers its tasks
on the queue (``app/reports/tasks.py``).
"""
