"""The ``feedhandler`` command line."""
