"""Request and response models of the HTTP API, a module per route group."""
