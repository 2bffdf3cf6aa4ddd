"""The release of StopSMS (pyproject.toml's; tests/unit/test_cli_options.py keeps them equal)."""

VERSION = "0.1.0"
