"""Rooms: real-time chat rooms with Claude."""
