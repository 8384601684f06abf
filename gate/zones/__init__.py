"""Lockdown zones (封控区 / 管控区 / 防范区): a status for a building, a grid or the whole compound, with dates, that overrides household status while it lasts."""
