"""Database access: the only package that speaks SQL."""
