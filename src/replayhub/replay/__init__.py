"""The replay player's data: share links, playback history, page data."""
