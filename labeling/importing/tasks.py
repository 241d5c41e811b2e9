"""Celery jobs of importing."""
