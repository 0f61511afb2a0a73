"""Rooms: creation, membership, sending, reading and the append spine."""
