"""ReplayHub: session replays carried to the tools where people already work."""

__version__ = "0.1.0"
