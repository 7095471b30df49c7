"""The outbox: outgoing actions stored as deliveries, sent by the dispatcher, paced and retried."""
