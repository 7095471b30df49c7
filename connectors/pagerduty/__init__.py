"""PagerDuty: incidents arrive through webhooks v3 (the post-mortem note comes later)."""
