"""Who may sign in and what each role sees: the sign-in guard, server-side sessions, sign-in throttling,
the secret key, and patient identifiers masked for managers (the users file is ``dashboards.users``)."""
