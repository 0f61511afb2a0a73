"""The media repository: uploads, downloads, thumbnails, limits and moderation."""
