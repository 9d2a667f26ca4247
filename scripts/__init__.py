"""Maintenance tools (data builder, notebook runner, stripper, README updater); importable as `scripts.X`."""
