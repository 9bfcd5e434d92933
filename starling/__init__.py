"""Starling's Django project: settings, the Celery app, URLs and WSGI. The app is `labelling`."""

from starling.celery import app as celery_app

__all__ = ["celery_app"]
