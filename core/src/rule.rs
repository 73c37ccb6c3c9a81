//! Learning-rule trait for the conformance harness.
