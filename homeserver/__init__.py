"""Hearth: a federated, Matrix-compatible homeserver."""

__version__ = "0.1.0"
