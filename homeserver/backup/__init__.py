"""Encrypted backups of a Hearth server and their restore (``hearth backup`` / ``hearth restore``)."""
