"""Opsgenie: alerts arrive through its outgoing webhook integration (token-checked)."""
