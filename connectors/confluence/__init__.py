"""Confluence Cloud: post-mortems published as pages (storage format, images as attachments),
their footer comments synced with the incident's thread."""
