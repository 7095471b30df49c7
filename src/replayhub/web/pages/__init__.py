"""Server-rendered pages of the web UI: login, sessions, errors, the replay player."""
