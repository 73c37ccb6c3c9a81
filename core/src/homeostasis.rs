//! Homeostasis: adaptive thresholds.
