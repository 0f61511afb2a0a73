"""Hearth's bundled web client. The TypeScript sources live here; the build in
``dist/`` ships as package data and is served at ``/`` by ``client_api.webclient``."""
