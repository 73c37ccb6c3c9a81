//! Feeds arbitrary text to the training-config parser (`TrainConfig::from_toml_str`, which
//! resolves a `preset` and merges the overrides onto it, then validates). It must return a
//! config or an error, never panic; a config it accepts must round-trip: its `to_toml` parses
//! back to an equal config that prints the same text.
#![no_main]

use hebb::config::TrainConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = TrainConfig::from_toml_str(text) else {
        return;
    };
    let resolved = cfg.to_toml();
    assert!(!resolved.is_empty(), "to_toml failed for {cfg:?}");
    let back = TrainConfig::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("resolved config does not parse back: {e}\n{resolved}"));
    assert_eq!(back, cfg, "round trip changed the config:\n{resolved}");
    assert_eq!(back.to_toml(), resolved);
});
