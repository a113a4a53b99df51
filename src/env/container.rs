//! The `container` environment: an OCI bundle run by isorun, runc, crun or any
//! runtime CLI. (Being built: see issue 3.)
