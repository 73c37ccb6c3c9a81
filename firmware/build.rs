//! Build script of the firmware.
//!
//! * Puts `memory.x` on the linker search path and, for bare-metal targets only, adds the
//!   cortex-m-rt and defmt linker scripts (so host builds of the workspace are unaffected).
//! * Decodes the committed fixtures (`model.hebb`, `model8.hebb`, `samples*.bin`, `learn.bin`,
//!   `hopfield.bin`, `oja.bin`, `sanger.bin`, `diehl.bin`, `events.bin`) with `hebb-core` and writes `sizes.rs`: the length of every static buffer, sized for the
//!   models that are shipped. Replacing a fixture re-sizes the buffers on the next build.
//! * Writes `model_corrupt.hebb`: `model.hebb` with one body byte flipped, for the boot check.

#[allow(dead_code)]
#[path = "src/diehl/files.rs"]
mod diehl_files;
#[allow(dead_code)]
#[path = "src/events/files.rs"]
mod events_files;
#[allow(dead_code)]
#[path = "src/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "src/local/files.rs"]
mod local_files;

use hebb_core::model::Model;
use hebb_core::network::{max_map, max_row};
use hebb_core::spikes::words;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const REGEN: &str = "regenerate the fixtures with \
    `cargo test -p hebb-tests --release --test firmware_fixture -- --ignored` \
    (see firmware/README.md)";

const REGEN_DIEHL: &str = "regenerate the Diehl & Cook fixture with \
    `cargo test -p hebb-tests --release --test firmware_fixture regenerate_diehl -- --ignored` \
    (see firmware/README.md)";

const REGEN_EVENTS: &str = "regenerate the event-pipeline fixture with \
    `cargo test -p hebb-tests --release --test firmware_fixture regenerate_events -- --ignored` \
    (see firmware/README.md)";

const REGEN_LOCAL: &str = "regenerate the local-rule fixtures with \
    `cargo test -p hebb-tests --release --test firmware_fixture regenerate_local -- --ignored` \
    (see firmware/README.md)";

fn read(dir: &Path, name: &str) -> Vec<u8> {
    let p = dir.join(name);
    println!("cargo:rerun-if-changed={}", p.display());
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGEN}", p.display()))
}

fn decode<'a>(name: &str, bytes: &'a [u8]) -> Model<'a> {
    Model::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}; {REGEN}"))
}

/// Buffer sizes of `network::features` for one model.
#[derive(Default, Clone, Copy)]
struct Infer {
    enc_out: usize,
    enc_plane: usize,
    enc_kernel: usize,
    max_map: usize,
    map_a: usize,
    map_b: usize,
    max_row: usize,
    feature_words: usize,
    n_classes: usize,
    thresholds: usize,
}

impl Infer {
    fn of(m: &Model<'_>) -> Self {
        let e = &m.encoder;
        Self {
            enc_out: e.n_out(),
            enc_plane: e.h() as usize * e.w() as usize,
            enc_kernel: e.n_kernel(),
            max_map: max_map(m),
            map_a: fixture::pingpong(m).0,
            map_b: fixture::pingpong(m).1,
            max_row: max_row(&m.arch),
            feature_words: words(m.feature_shape().len()),
            n_classes: m.readout.map_or(0, |r| r.n_classes as usize),
            thresholds: m.arch.iter().map(|a| a.conv.out_c() as usize).sum(),
        }
    }
    fn max(self, o: Self) -> Self {
        Self {
            enc_out: self.enc_out.max(o.enc_out),
            enc_plane: self.enc_plane.max(o.enc_plane),
            enc_kernel: self.enc_kernel.max(o.enc_kernel),
            max_map: self.max_map.max(o.max_map),
            map_a: self.map_a.max(o.map_a),
            map_b: self.map_b.max(o.map_b),
            max_row: self.max_row.max(o.max_row),
            feature_words: self.feature_words.max(o.feature_words),
            n_classes: self.n_classes.max(o.n_classes),
            thresholds: self.thresholds.max(o.thresholds),
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));

    // Linker setup (bare metal only).
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/fixture.rs");
    println!("cargo:rerun-if-changed=src/local/files.rs");
    println!("cargo:rerun-if-changed=src/diehl/files.rs");
    println!("cargo:rerun-if-changed=src/events/files.rs");
    println!("cargo:rerun-if-changed=memory.x");
    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg=--nmagic");
        println!("cargo:rustc-link-arg=-Tlink.x");
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
    // defmt filters at compile time; default to `info` so the per-sample lines are kept.
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    let level = std::env::var("DEFMT_LOG").unwrap_or_else(|_| "info".into());
    println!("cargo:rustc-env=DEFMT_LOG={level}");

    // Inference buffers: large enough for both shipped widths.
    let m16 = read(&manifest, "model.hebb");
    let m8 = read(&manifest, "model8.hebb");
    let inf = Infer::of(&decode("model.hebb", &m16)).max(Infer::of(&decode("model8.hebb", &m8)));
    for (s, m) in [("samples.bin", &m16), ("samples8.bin", &m8)] {
        let b = read(&manifest, s);
        let p = fixture::Samples::parse(&b).unwrap_or_else(|e| panic!("{s}: {e:?}; {REGEN}"));
        assert_eq!(
            Some(p.model_crc),
            fixture::model_body_crc(m),
            "{s} was written for another model; {REGEN}"
        );
    }

    // Learning buffers: `layer::simulate` + `encode` for the layer in learn.bin.
    let lb = read(&manifest, "learn.bin");
    let learn = fixture::Learn::parse(&lb).unwrap_or_else(|e| panic!("learn.bin: {e:?}; {REGEN}"));
    let lm = decode("learn.bin model", learn.model);
    let a = lm.arch[0];
    let o = a.conv.output();
    let e = &lm.encoder;
    let cand = if learn.wta_pointwise {
        o.plane()
    } else {
        o.len()
    };

    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "// Generated by build.rs from the committed fixtures.");
    let _ = writeln!(
        w,
        "/// Buffer lengths of `infer` (max over model.hebb and model8.hebb)."
    );
    let _ = writeln!(w, "pub mod infer {{");
    for (k, v) in [
        ("ENC_OUT", inf.enc_out),
        ("ENC_PLANE", inf.enc_plane),
        ("ENC_KERNEL", inf.enc_kernel),
        ("MAX_MAP", inf.max_map),
        ("MAP_A", inf.map_a),
        ("MAP_B", inf.map_b),
        ("MAX_ROW", inf.max_row),
        ("FEATURE_WORDS", inf.feature_words),
        ("N_CLASSES", inf.n_classes.max(1)),
        ("THRESHOLDS", inf.thresholds),
    ] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    let _ = writeln!(w, "/// Buffer lengths of `learn` (the layer in learn.bin).");
    let _ = writeln!(w, "pub mod learn {{");
    for (k, v) in [
        ("ENC_OUT", e.n_out()),
        ("ENC_PLANE", e.h() as usize * e.w() as usize),
        ("ENC_KERNEL", e.n_kernel()),
        ("INPUT", a.conv.input().len()),
        ("NEURONS", o.len()),
        ("POSITIONS", o.plane()),
        ("POSITION_WORDS", words(o.plane())),
        ("MAPS", o.c as usize),
        ("MAP_WORDS", words(o.c as usize)),
        ("CAND", cand),
        ("STARTS", learn.steps as usize + 1),
        ("WEIGHTS", a.conv.n_weights()),
        ("K", learn.wta_k as usize),
    ] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    // Hopfield buffers: storage (patterns, bit sets, sums, weights) and recall states.
    let hb = read(&manifest, "hopfield.bin");
    let h = local_files::Hopfield::parse(&hb)
        .unwrap_or_else(|e| panic!("hopfield.bin: {e:?}; {REGEN_LOCAL}"));
    let (hn, hp) = (h.n as usize, h.p as usize);
    let _ = writeln!(
        w,
        "/// Buffer lengths of `hopfield` (the memory in hopfield.bin)."
    );
    let _ = writeln!(w, "pub mod hopfield {{");
    for (k, v) in [
        ("N", hn),
        ("PATTERNS", hp * hn),
        ("BITS", hn * hp.div_ceil(64)),
        ("WEIGHTS", hn * hn),
    ] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    // Rate-rule buffers: the larger of the Oja and Sanger layers.
    let (mut rn, mut rk, mut rw) = (1, 1, 1);
    for name in ["oja.bin", "sanger.bin"] {
        let b = read(&manifest, name);
        let r =
            local_files::Rate::parse(&b).unwrap_or_else(|e| panic!("{name}: {e:?}; {REGEN_LOCAL}"));
        let (n, k) = (r.n as usize, r.k as usize);
        rn = rn.max(n);
        rk = rk.max(k);
        rw = rw.max(n * k);
    }
    let _ = writeln!(
        w,
        "/// Buffer lengths of `oja` and `sanger` (max over oja.bin and sanger.bin)."
    );
    let _ = writeln!(w, "pub mod rate {{");
    for (k, v) in [("N", rn), ("K", rk), ("W", rw)] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    // Diehl & Cook buffers: both networks' state, the learning weights, the trace tables.
    let db = read(&manifest, "diehl.bin");
    let d = diehl_files::Diehl::parse(&db)
        .unwrap_or_else(|e| panic!("diehl.bin: {e:?}; {REGEN_DIEHL}"));
    let params: hebb_core::diehl_cook::Params = postcard::from_bytes(d.params)
        .unwrap_or_else(|e| panic!("diehl.bin params: {e}; {REGEN_DIEHL}"));
    let table = |decay: u32| {
        let mut t = vec![0u32; hebb_core::diehl_cook::params::TABLE_MAX];
        hebb_core::diehl_cook::trace_table(decay, &mut t)
            .unwrap_or_else(|e| panic!("diehl.bin trace table: {e}; {REGEN_DIEHL}"))
            .max(1)
    };
    let [dp, d1, d2] = params.raw().trace_decay;
    let (dn, dl, dc) = (d.n as usize, d.n_learn as usize, d.classes as usize);
    let _ = writeln!(
        w,
        "/// Buffer lengths of `diehl` (the networks in diehl.bin)."
    );
    let _ = writeln!(w, "pub mod diehl {{");
    for (k, v) in [
        ("N", dn.max(dl)),
        ("N_IN", d.n_in()),
        ("W_LEARN", d.n_in() * dl),
        ("CLASSES", dc),
        ("RESP", dn * dc),
        ("SCORES", 2 * dc),
        ("TABLE_PRE", table(dp)),
        ("TABLE_POST1", table(d1)),
        ("TABLE_POST2", table(d2)),
    ] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    // Event-pipeline buffers: the sensor, the most kept events of a window, the model's maps.
    let eb = read(&manifest, "events.bin");
    let ef = events_files::Events::parse(&eb)
        .unwrap_or_else(|e| panic!("events.bin: {e:?}; {REGEN_EVENTS}"));
    let em =
        Model::decode(ef.model).unwrap_or_else(|e| panic!("events.bin model: {e}; {REGEN_EVENTS}"));
    let enc = &em.encoder;
    let sensor = usize::from(ef.sensor_w) * usize::from(ef.sensor_h);
    let plane = usize::from(enc.w()) * usize::from(enc.h());
    let (hn, ne) = hebb_core::decode::hulk_scratch_len(&em);
    let levels: usize = enc.n_out() + em.arch.iter().map(|a| a.out_shape().len()).sum::<usize>();
    let conv_out = |f: fn(&hebb_core::geometry::Shape) -> usize| {
        em.arch
            .iter()
            .map(|a| f(&a.conv.output()))
            .max()
            .unwrap_or(0)
    };
    let pos = conv_out(|o| o.plane());
    let _ = writeln!(
        w,
        "/// Buffer lengths of `events` (the model and stream in events.bin)."
    );
    let _ = writeln!(w, "pub mod events {{");
    for (k, v) in [
        ("SENSOR", sensor),
        ("HOT_WORDS", sensor.div_ceil(32)),
        ("KEPT", (ef.max_kept() as usize).max(1)),
        (
            "U32S",
            sensor.max(hn).max(
                em.arch
                    .iter()
                    .map(|a| a.conv.input().len())
                    .max()
                    .unwrap_or(0),
            ),
        ),
        ("U64S", enc.n_out().max(ne)),
        ("V", conv_out(|o| o.len())),
        ("U8S", enc.n_in().max(hn + levels + plane)),
        (
            "PRE_TIMES",
            em.arch.iter().map(|a| a.conv.output().len()).sum::<usize>(),
        ),
        ("OUT_TIMES", levels),
        ("POS", pos),
        ("POS_WORDS", words(pos)),
        (
            "MAP_WORDS",
            words(
                em.arch
                    .iter()
                    .map(|a| a.conv.out_c() as usize)
                    .max()
                    .unwrap_or(0),
            ),
        ),
        ("STARTS", enc.steps() as usize + 1),
        ("FILTERS", enc.n_kernel()),
        (
            "THRESHOLDS",
            em.arch
                .iter()
                .map(|a| a.conv.out_c() as usize)
                .sum::<usize>(),
        ),
        ("PLANE", plane),
        ("LAYERS", em.arch.len()),
    ] {
        let _ = writeln!(w, "    /// `{k}`.\n    pub const {k}: usize = {v};");
    }
    let _ = writeln!(w, "}}");
    std::fs::write(out.join("sizes.rs"), s).expect("write sizes.rs");

    // The corrupted copy: flip one bit in the middle of the body (the weights).
    let mut bad = m16.clone();
    let body = bad.len() - hebb_core::model::HEADER_LEN;
    bad[hebb_core::model::HEADER_LEN + body / 2] ^= 0x01;
    std::fs::write(out.join("model_corrupt.hebb"), bad).expect("write model_corrupt.hebb");
}
