"""Developer tools (spec coverage); not part of the public API."""
