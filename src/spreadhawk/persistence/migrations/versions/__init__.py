"""Revisions of the run store, oldest first: ``v<revision id>.py``, each with ``upgrade`` and ``downgrade``."""
