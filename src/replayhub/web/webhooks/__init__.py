"""Inbound vendor webhooks."""
