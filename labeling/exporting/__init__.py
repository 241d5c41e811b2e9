"""Streaming exports of tasks and labels in every common format."""
