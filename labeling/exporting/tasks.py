"""Celery jobs of exporting."""
