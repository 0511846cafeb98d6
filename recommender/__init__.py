"""Timbre's recommendation engine: audio features, similarity, taste, queues and playlists."""
