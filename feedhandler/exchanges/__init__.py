"""Exchange plug-ins: one sub-package per exchange, each registering its strategies."""
