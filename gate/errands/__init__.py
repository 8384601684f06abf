"""Quarantine errands (代购 / 代办): requests for quarantined households, assigned to a volunteer or squad, followed to delivery."""
