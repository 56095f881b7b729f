"""Putting drifted groups back: the plan (pure), applying it to a cloud, verifying, backups.

``aws`` and ``gcp`` are each one cloud's fix and rollback (import the package: its face is what
the command line uses); ``signing`` and ``documents`` are what their files share.
"""
