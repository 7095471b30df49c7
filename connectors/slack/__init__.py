"""Slack: alerts that tag the owners, threads synced with replay comments, link unfurls."""
