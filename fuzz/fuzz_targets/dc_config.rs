//! Feeds arbitrary text to the Diehl & Cook config parser (`DiehlCookConfig::from_toml_str`:
//! preset resolution, the `[physical]` merge over the authors' defaults, the core's conversion
//! to integers). It must return a config or an error, never panic; an accepted config must
//! round-trip through `to_toml` and give its integer constants.
#![no_main]

use hebb::family::diehl_cook::config::DiehlCookConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = DiehlCookConfig::from_toml_str(text) else {
        return;
    };
    let resolved = cfg.to_toml();
    let back = DiehlCookConfig::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("resolved config does not parse back: {e}\n{resolved}"));
    assert_eq!(back, cfg, "round trip changed the config:\n{resolved}");
    cfg.params().expect("a validated config gives its constants");
});
