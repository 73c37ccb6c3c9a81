//! Convergence tracking and stop rules.
