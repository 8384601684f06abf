"""Signing keys: the office private keyring in files, public parts for gates."""
