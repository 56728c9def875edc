"""TLS facts the cert probe and the HTTP probes share: certificates, their cached fields,
chains and the CA bundle to trust."""
