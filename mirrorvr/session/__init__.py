"""Protocols, the movement plan, ratings and the session runner."""
