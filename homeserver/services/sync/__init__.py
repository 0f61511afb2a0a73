"""``/sync``: what changed for a user since a token, long-polling until something does."""
