"""`make demo`: a real registry behind real nginx (TLS), watched by the exporter, on loopback."""
