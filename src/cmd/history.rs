//! `isobench history` (being built: see issue 5).
