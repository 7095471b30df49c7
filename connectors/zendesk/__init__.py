"""Zendesk Support: replays on new tickets, and comments both ways."""
