"""Embedding → SQLite catalog (the truth) + on-disk hnswlib index (a cache of it)."""
