//! Network families: each one a [`Trainer`](crate::run::Trainer) of the shared run loop.

pub mod conv_stdp;
pub mod diehl_cook;
pub mod ei;
pub mod frame;
pub mod rules;

use serde::{Deserialize, Serialize};

/// The kinds of network hebb trains; a model file carries its family as a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Family {
    /// Convolutional STDP on images and events (Kheradpisheh 2018, SpikeSEG).
    ConvStdp,
    /// Local learning rules and attractor memories (the CANNs trainers).
    LocalRules,
    /// The Diehl & Cook 2015 network: Poisson inputs, conductance LIF, trace STDP, labels by
    /// response.
    DiehlCook,
    /// A conductance-based E/I network held at target rates by local homeostatic rules.
    EiNetwork,
    /// A family defined outside hebb (user code, tests), with its own tag (at least
    /// [`Family::CUSTOM_MIN`]).
    Custom(u16),
}

impl Family {
    /// Smallest tag of a [`Family::Custom`] family.
    pub const CUSTOM_MIN: u16 = 0x8000;

    /// The name used in configs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConvStdp => "conv-stdp",
            Self::LocalRules => "local-rules",
            Self::DiehlCook => "diehl-cook",
            Self::EiNetwork => "ei-network",
            Self::Custom(_) => "custom",
        }
    }
    /// The tag stored in model files.
    pub fn tag(self) -> u16 {
        match self {
            Self::ConvStdp => hebb_core::frame::FAMILY_CONV_STDP,
            Self::LocalRules => hebb_core::frame::FAMILY_LOCAL_RULES,
            Self::DiehlCook => hebb_core::frame::FAMILY_DIEHL_COOK,
            Self::EiNetwork => hebb_core::frame::FAMILY_EI_NETWORK,
            Self::Custom(t) => t,
        }
    }
}
