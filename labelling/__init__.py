"""Starling's Django project and its one app: projects, subjects, votes, model versions."""

from labelling.celery import app as celery_app

__all__ = ["celery_app"]
