"""The plugin's own tests: the fixtures come from the installed wheel (entry point `pytest11`),
not from this folder; `pytester` runs whole pytest sessions for the report tests."""

pytest_plugins = ["pytester"]
