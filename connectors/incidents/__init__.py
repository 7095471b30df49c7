"""Any other incident tool: a generic signed JSON webhook at POST /webhooks/incidents."""
