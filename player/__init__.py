"""Timbre's music player without a screen: library scan, tags, storage, playback, history."""
