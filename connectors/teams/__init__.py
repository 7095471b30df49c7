"""Microsoft Teams: alerts posted as Adaptive Cards through a Power Automate Workflows webhook
(outbound only; replies in Teams do not come back to the hub)."""
