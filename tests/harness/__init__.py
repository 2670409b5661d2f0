"""Real parts for tests and benchmarks: a Kubernetes control plane on loopback (``controlplane``)."""
