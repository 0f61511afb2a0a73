"""The Server-Server (federation) API: inbound routes, outbound sender, server keys."""
