"""The ``unitreview`` command line: the commands (commands, audit), the review lock, error sentences,
the in-process run, its summary and progress bars."""
