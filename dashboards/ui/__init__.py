"""What the pages are made of: Plotly figures, shared components, plain-word glossary, the filter bar and
the view in the URL, links to a day, the "Why flagged" and audit-sample sections."""
