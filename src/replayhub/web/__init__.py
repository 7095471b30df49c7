"""The HTTP side: API controllers, pages and webhooks."""
