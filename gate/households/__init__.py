"""Households: the office's register of households, and their import from spreadsheets.

Import runs in two halves. This package's database-independent half reads a sheet
(``spreadsheet.read_rows``), checks every row (``validation.validate_rows`` -> ``ImportPlan``) and
writes the blank template (``template.write_template``); the database half imports a plan only
when it has no errors, so a file never half-imports. ``validation`` also holds the masks used
wherever personal data is listed (``mask_name``, ``mask_phone``, ``mask_id_number``).
"""
