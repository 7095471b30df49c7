"""Notion: post-mortems published as pages of blocks, with page comments kept in step."""
