"""Calico → Antrea policy conversion: ``convert(inventory, options) -> ConversionResult``."""

from kubectl_antrea_migrate.convert.engine import convert

__all__ = ["convert"]
