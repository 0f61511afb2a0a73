"""Hearth as an OAuth 2.0 authorization server (spec: Client-Server API, "OAuth 2.0 API")."""
