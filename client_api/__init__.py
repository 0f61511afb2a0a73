"""The Client-Server API (and Synapse-compatible admin API) HTTP routes."""
