"""The office's setup of a site: the hierarchy of areas, grids, compounds and buildings
(add, rename, merge two buildings that are the same), with household counts per building.

It sits above ``households`` (a merge moves households) and ``community`` (whose models it
edits), beside ``devices`` (gates and scanners live there).
"""
