"""The streaming benchmark (`python -m chat.bench`): the runner, the app and browser drivers, the report."""
