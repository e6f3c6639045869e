"""What a person can do to DAGs and runs, decided purely; shared by the CLI and the web UI."""
