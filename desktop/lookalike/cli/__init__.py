"""argv → Library calls → text or JSON on stdout."""
