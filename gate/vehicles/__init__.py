"""Vehicles: residents' cars with signed vehicle passes, plates validated at the gate, and the community's rule for outside plates."""
