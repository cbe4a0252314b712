"""peloton-sync: the Peloton class library (archived rides) synced into its own schema."""

SERVICE = "peloton-sync"
