"""One router per resource; each declares its prefix and tags."""
