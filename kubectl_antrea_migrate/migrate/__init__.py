"""The migration itself: ``plan`` (pure: which steps, in which order), ``state`` (pure: what is done,
persisted in a ConfigMap, and the lock), ``runner`` (runs a plan through the ports it is handed,
resumable after any crash, and rolls back), ``simulation`` (in-memory ports for tests and benchmarks).
"""
