"""HTTP adapters shared by the services: app factory, problems, health, metrics, logging."""
