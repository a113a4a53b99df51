//! isorun: a minimal OCI container runtime (namespaces, cgroups v1/v2, overlayfs layered images).
