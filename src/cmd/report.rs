//! `isobench report` (being built: see issue 5).
