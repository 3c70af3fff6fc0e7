"""Ready-made strategies, each one file: a config class plus a strategy class."""
