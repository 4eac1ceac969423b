"""Sending notices: the outbox tick, and where notices go (for now the notification log)."""
