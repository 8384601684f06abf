"""People without a household pass at the gate: walk-ins turned back (劝返), deliveries
handed over, and visitors the office pre-approved with a signed visitor pass."""
