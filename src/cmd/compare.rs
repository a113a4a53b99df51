//! `isobench compare` (being built: see issue 5).
