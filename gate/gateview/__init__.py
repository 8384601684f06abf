"""The gate view in the browser: a phone or tablet at the gate scans with its camera and posts
through the same decision path as a scanner device (``/gate``)."""
