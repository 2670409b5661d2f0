"""kubectl antrea-migrate."""
