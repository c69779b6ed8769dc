"""Programs' APIs: one package or module per dialect, each a translation layer over the services."""
