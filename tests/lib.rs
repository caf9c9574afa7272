//! End-to-end tests of Ferrocore; see `e2e/`.
