"""The Failed Charges report: search, drill-down and reprocessing for billers (API and CLI)."""
