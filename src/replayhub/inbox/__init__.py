"""The webhook inbox: verified vendor webhooks, stored once, processed after the answer."""
