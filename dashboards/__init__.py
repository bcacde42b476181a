"""Reading a published snapshot of the warehouse: the HTML report and the Dash review app.

Nothing here opens the live warehouse or imports the ingestion or rule code: data arrives through
``dashboards.data.snapshot`` (read-only), leaves through ``dashboards.access.privacy`` (patient identifiers
masked for managers) and ``dashboards.files.safe_export`` (spreadsheet formulas neutralized).

* ``app`` (the entry: ``create_app``, ``serve``), ``users`` (the users file and its command), ``context`` (what a request knows), ``not_found`` (HTTP 404);
* ``access``: who may sign in and what each role sees (sessions, throttle, app key, privacy);
* ``data``: the snapshot, opened read-only, and the queries over it;
* ``ui``: figures, components, filters, links, the plain-word glossary and the page sections;
* ``files``: what is written for people (CSV / Excel exports, the HTML report), formula-safe;
* ``pages``: the Dash pages; ``background`` and ``screenshots`` run the app for tests and docs.
"""
