"""Reference data for the formatter's rules: the default rule book and the code tables.

A package (not a loose folder) so the files ship as package data and are read through
importlib.resources from a wheel as well as from a checkout.

- rulebook.json: which rules apply per payer type and payer id, and their parameters.
- mue_practitioner.csv: practitioner MUE limits in the layout of CMS's quarterly file
  (a small sample for the therapy codes; drop the real file in via the rule book).
- place_of_service.csv: the CMS place-of-service code set.
- therapy_codes.csv: the therapy code list (republished yearly) and which codes are timed.
- kx_thresholds.csv: the Medicare KX threshold per year and discipline.
"""
