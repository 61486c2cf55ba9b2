"""Listeners of engine events: the console view, the store recording, the webhook. The engine imports none."""
