"""Lockdown zones (封控区 / 管控区 / 防范区): a level over a building, a grid or a compound, with
dates, that overrides household status while it lasts (:mod:`passes.lockdown`)."""
