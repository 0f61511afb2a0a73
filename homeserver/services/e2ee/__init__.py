"""End-to-end encryption services: the key directory, the mailbox and the vault."""
