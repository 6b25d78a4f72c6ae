"""The ``andromede`` command (typer + rich): serve, and admin commands as they come."""
