"""The face: the `update-estimate` command, its tables and JSON, and plots."""
