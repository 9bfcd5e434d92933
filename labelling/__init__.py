"""Starling: projects, subjects, votes and model versions (one Django app, packages by concern)."""
