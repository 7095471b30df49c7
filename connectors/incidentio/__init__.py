"""incident.io: incidents arrive through its (Svix-signed) webhooks."""
