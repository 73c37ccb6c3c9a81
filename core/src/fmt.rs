//! Logging shim: forwards to `defmt` when that feature is on and compiles to nothing otherwise,
//! so log calls can stay in the engine without costing anything on builds that do not log.
#![allow(unused_macros)]

#[cfg(feature = "defmt")]
macro_rules! trace { ($($x:tt)*) => { ::defmt::trace!($($x)*) }; }
#[cfg(not(feature = "defmt"))]
macro_rules! trace { ($s:literal $(, $x:expr)* $(,)?) => {{ $( let _ = &$x; )* }}; }

#[cfg(feature = "defmt")]
macro_rules! debug { ($($x:tt)*) => { ::defmt::debug!($($x)*) }; }
#[cfg(not(feature = "defmt"))]
macro_rules! debug { ($s:literal $(, $x:expr)* $(,)?) => {{ $( let _ = &$x; )* }}; }

#[cfg(feature = "defmt")]
macro_rules! warn { ($($x:tt)*) => { ::defmt::warn!($($x)*) }; }
#[cfg(not(feature = "defmt"))]
macro_rules! warn { ($s:literal $(, $x:expr)* $(,)?) => {{ $( let _ = &$x; )* }}; }
