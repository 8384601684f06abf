"""Communities, their hierarchy (area, grid, compound, building) and versioned rule sets."""
