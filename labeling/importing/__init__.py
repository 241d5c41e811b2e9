"""Streaming, atomic imports of tasks in every common format."""
