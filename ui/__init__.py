"""Timbre's Qt widgets, item models and workers; ui.app is the entry point."""
