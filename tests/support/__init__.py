"""Helpers shared by the e2e and probe tests: a real ``andromede serve`` process."""
