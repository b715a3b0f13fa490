"""digitwatch.daemon: the service and the recognition code (see README, Package layout)."""
