"""Reading a published snapshot of the warehouse: the HTML report and the Dash review app.

Nothing here opens the live warehouse or imports the ingestion or rule code: data arrives through
``dashboards.snapshot`` (read-only), leaves through ``dashboards.privacy`` (patient identifiers
masked for managers) and ``dashboards.safe_export`` (spreadsheet formulas neutralized).
"""
