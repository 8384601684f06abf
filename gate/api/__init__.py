"""The scanner API: device enrolment, the decision bundle, scans and offline uploads."""
