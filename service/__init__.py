"""HTTP and Lambda front of predcache: schemas, settings, the app factory, the handler."""
