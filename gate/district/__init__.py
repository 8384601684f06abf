"""A district: the several communities one account (a street office, an inspector) may open,
seen side by side. Read-only; scanners and passes stay per community."""
