"""Households: the office's register of households, and their import from spreadsheets.

Import runs in two halves. This package's database-independent half reads a sheet
(``spreadsheet.read_rows``), checks every row (``validation.validate_rows`` -> ``ImportPlan``:
one row per person, rows of one household code form a household; building, unit and room
spellings normalised by ``place_names``) and writes the blank template
(``template.write_template``); the database half (``importing``, places by ``placing``)
imports a plan only when it has no errors, so a file never half-imports, unless the office
asks for the good rows only (the bad ones come back as a sheet: ``bad_rows``). Large
console imports run as a background job (``import_jobs``). ``validation`` also holds the masks used
wherever personal data is listed (``mask_name``, ``mask_phone``, ``mask_id_number``).
"""
