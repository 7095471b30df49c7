"""GitHub: documents published as Markdown files (with their images) in a repository."""
