//! Local learning rules and attractor memories (the rate-rule family): storage and recall of
//! Hopfield memories in exact integers, Oja, Sanger, BCM on a linear layer and trace STDP on a
//! LIF layer in Q5.26 fixed point (their learning-rate schedules are [`crate::schedule`]). Every rule is a pure
//! update step on caller-owned weights and state: no allocation, no panics.

pub mod activation;
pub mod bcm;
pub mod fixed;
pub mod hebbian;
pub mod hopfield;
pub mod lif;
pub mod oja;
pub mod rule;
pub mod trace_stdp;
