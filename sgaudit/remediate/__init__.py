"""Putting drifted groups back: the plan (pure), applying it to a cloud, verifying, backups."""
