//! Learning-rule trait for the conformance harness.
//!
//! A [`LearningRule`] maps one synapse's weight and the spike times of its pre and post neurons
//! to a new weight, in the engine's fixed point, and provides an `f64` model of the same rule.
//! The conformance harness of `hebb-tests` (`hebb_tests::conformance::check_rule`) checks any
//! implementation against its own model: weights stay in range and saturate instead of wrapping,
//! updates move in the declared direction, results are deterministic and within one LSB of the
//! model. [`StdpParams`] implements it; users implement it for their own rules.

use crate::spikes::NEVER;
use crate::stdp::{StdpParams, StdpRule, apply, is_ltp};

/// A pairwise learning rule on Q0.16 weights and first-spike times.
///
/// Times are steps as in [`crate::spikes`]: `pre` may be [`NEVER`] (the pre neuron never fired,
/// or sits in the zero padding); `post` is the first-spike step of a winner, so it is a real step
/// (`< NEVER`).
pub trait LearningRule {
    /// Short name for reports.
    fn name(&self) -> &str;
    /// New weight (Q0.16) of a synapse of weight `w` whose pre neuron first fired at `pre` and
    /// post neuron at `post`.
    fn update(&self, w: u16, pre: u8, post: u8) -> u16;
    /// `f64` model of the same rule: `w` is the real weight in `[0, 1)`, `pre` is `None` when
    /// the pre neuron never fired. Returns the real new weight.
    fn reference(&self, w: f64, pre: Option<u8>, post: u8) -> f64;
    /// Direction the rule promises for these times: `Some(true)` when the weight may only grow
    /// (LTP), `Some(false)` when it may only shrink (LTD), `None` when the rule has no sign
    /// contract.
    fn ltp_sign(&self, pre: u8, post: u8) -> Option<bool>;
}

impl LearningRule for StdpParams {
    fn name(&self) -> &str {
        match self.rule {
            StdpRule::Multiplicative => "stdp-multiplicative",
            StdpRule::Additive => "stdp-additive",
        }
    }

    fn update(&self, w: u16, pre: u8, post: u8) -> u16 {
        apply(w, self.delta(w, is_ltp(pre, post)))
    }

    /// `w ± a·w·(1 − w)` (or `w ± a`) with the Q0.32 rates taken at their exact real value,
    /// clamped to `[0, 65535/65536]` (the largest Q0.16 weight; the rule's bound 1 is not
    /// representable).
    fn reference(&self, w: f64, pre: Option<u8>, post: u8) -> f64 {
        let ltp = pre.is_some_and(|p| p != NEVER && p <= post);
        let a = crate::q::rate_to_f64(if ltp { self.a_plus } else { self.a_minus });
        let mag = match self.rule {
            StdpRule::Multiplicative => a * w * (1.0 - w),
            StdpRule::Additive => a,
        };
        let w1 = if ltp { w + mag } else { w - mag };
        w1.clamp(0.0, crate::q::weight_to_f64(crate::q::W_MAX))
    }

    fn ltp_sign(&self, pre: u8, post: u8) -> Option<bool> {
        Some(is_ltp(pre, post))
    }
}
