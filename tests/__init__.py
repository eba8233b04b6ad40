"""The test suite. A regular package, so that `tests` here wins over a `tests` package that a
dependency installs into site-packages (ppi-python ships one)."""
