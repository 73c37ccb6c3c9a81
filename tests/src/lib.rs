//! Shared test support and the learning-rule conformance harness.
