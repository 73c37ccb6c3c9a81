//! The rate-rule conformance harness on the rules hebb ships: each agrees with its own f64
//! model within a few LSB per step, stays within its bounds and is deterministic; a rule whose
//! fixed-point step disagrees with its model is caught.

use hebb_core::local::bcm::BcmParams;
use hebb_core::local::fixed::{self, ONE};
use hebb_core::local::rule::{BcmRule, OjaRule, RateRule, SangerRule};
use hebb_core::schedule::{Decay, RateSchedule};
use hebb_tests::rate_conformance::check_rate_rule;

fn sched(eta: f64) -> RateSchedule {
    RateSchedule::new(
        fixed::saturating_from_f64(eta),
        0,
        Decay::InverseTime { t0: 200 },
    )
    .expect("valid schedule")
}

/// One LSB of Q5.26.
const LSB: f64 = 1.0 / ONE as f64;

#[test]
fn oja_conforms() {
    for normalize in [true, false] {
        let rule = OjaRule {
            n: 20,
            k: 2,
            schedule: sched(0.01),
            normalize,
        };
        let rep = check_rate_rule(&rule, 2000, 1.0, 2000.0 * 4.0 * LSB, 1).expect("conforms");
        // Measured: about 50 LSB after 2000 steps.
        assert!(rep.max_error < 2e-6, "{rep:?}");
    }
}

#[test]
fn sanger_conforms() {
    let rule = SangerRule {
        n: 16,
        k: 3,
        schedule: sched(0.01),
        normalize: true,
    };
    let rep = check_rate_rule(&rule, 2000, 1.0, 2000.0 * 4.0 * LSB, 2).expect("conforms");
    assert!(rep.max_weight <= 1.0 + 4.0 * LSB, "{rep:?}");
}

#[test]
fn bcm_conforms_and_respects_its_clip() {
    let params = BcmParams::new(
        fixed::saturating_from_f64(0.02),
        fixed::saturating_from_f64(0.5),
    )
    .expect("valid");
    let rule = BcmRule {
        n: 12,
        k: 2,
        schedule: sched(0.05),
        params,
        theta0: ONE / 10,
    };
    let rep = check_rate_rule(&rule, 1000, 1.0, 1000.0 * 4.0 * LSB, 3).expect("conforms");
    assert!(rep.max_weight <= 0.5, "{rep:?}");
}

/// A rule whose f64 model is not its fixed-point step (the model forgets the decay term).
struct Wrong(OjaRule);

impl RateRule for Wrong {
    fn name(&self) -> &str {
        "wrong"
    }
    fn shape(&self) -> (usize, usize) {
        self.0.shape()
    }
    fn step(&self, w: &mut [i32], e: &mut [i32], x: &[i32], t: u64) -> hebb_core::Result<()> {
        self.0.step(w, e, x, t)
    }
    fn reference(&self, w: &mut [f64], _: &mut [f64], x: &[f64], t: u64) {
        let eta = fixed::to_f64(self.0.schedule.rate(t));
        let y: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum();
        w.iter_mut()
            .zip(x)
            .for_each(|(wj, &xj)| *wj += eta * y * xj);
    }
}

#[test]
fn a_disagreeing_model_is_caught() {
    let rule = Wrong(OjaRule {
        n: 10,
        k: 1,
        schedule: sched(0.05),
        normalize: false,
    });
    let e = check_rate_rule(&rule, 500, 1.0, 1e-4, 4).expect_err("must fail");
    assert!(e.contains("wrong: weight"), "{e}");
}
