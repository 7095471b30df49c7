"""Ingestion of rrweb recordings: DOM mirror, scrubbing and indexing."""
