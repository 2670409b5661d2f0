"""Prove that Antrea policies allow exactly what the Calico policies allowed.

``verify(calico_inventory, antrea_objects, pods)`` evaluates both CNIs' semantics independently over a
probe universe (real or synthetic endpoints, the ports the policies mention) and returns a
``VerifyReport`` listing every probe whose verdicts differ, with the deciding rule on each side.
"""

from kubectl_antrea_migrate.verify.diff import Difference, MatrixCell, VerifyReport, verify

__all__ = ["Difference", "MatrixCell", "VerifyReport", "verify"]
