"""The bus: transactional outbox, idempotent inbox, topology, and the kombu/pika adapters."""
