"""Connectors shipped with ReplayHub, one package per vendor (see src/replayhub/connector.py)."""
