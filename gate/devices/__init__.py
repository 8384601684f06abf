"""Gates and the scanner devices enrolled at them."""
