"""Kubernetes core objects as plain data (core: no client imports)."""
