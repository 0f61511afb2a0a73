"""Domain services: one per domain, collaborators passed to constructors."""
