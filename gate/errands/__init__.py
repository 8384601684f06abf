"""Quarantine errands (代购 / 代办): requests for quarantined households, assigned to a
volunteer or a squad, followed to delivery."""
