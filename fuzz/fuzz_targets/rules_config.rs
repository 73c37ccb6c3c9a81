//! Feeds arbitrary text to the local-rules config parser (`RulesConfig::from_toml_str`: preset
//! resolution, merge, the core validators). It must return a config or an error, never panic;
//! an accepted config must round-trip through `to_toml`, and its rule must build.
#![no_main]

use hebb::family::rules::config::RulesConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = RulesConfig::from_toml_str(text) else {
        return;
    };
    let resolved = cfg.to_toml();
    let back = RulesConfig::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("resolved config does not parse back: {e}\n{resolved}"));
    assert_eq!(back, cfg, "round trip changed the config:\n{resolved}");
    cfg.core_rule().expect("a validated config builds its rule");
});
