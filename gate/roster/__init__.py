"""Duty shifts at the gates (值守排班): time slots, the volunteers and supervisors
assigned, who is on duty now."""
