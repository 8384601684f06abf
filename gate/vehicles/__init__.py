"""Vehicles: residents' cars with signed vehicle passes (windscreen cards), plates checked
at the gate, and the community's rule for outside plates."""
