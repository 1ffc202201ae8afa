"""The HTTP side: thin routes that parse, call a service and render."""
