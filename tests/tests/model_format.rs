//! The `.hebb` model file: a realistic model round trip, every named decode error, shape errors
//! found by validation, and the fuzz seed corpus.

use hebb_core::Error;
use hebb_core::encode::{EncodeMode, EncodeScratch, EncoderParams, EncoderParamsRaw};
use hebb_core::geometry::{ConvGeom, ConvGeomRaw, PoolGeom, Shape};
use hebb_core::model::{CRC, FORMAT_VERSION, HEADER_LEN, MAGIC, Model};
use hebb_core::network::{InferScratch, features, filters, max_map, max_row, thresholds};
use hebb_core::spikes::words;
use hebb_tests::fixtures::{self, ModelParts, encode_to_vec};
use std::path::PathBuf;

/// Frames an arbitrary body as the encoder would: magic, version, length, CRC.
fn frame(version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(b"HEBB");
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&CRC.checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Postcard body of a model, without the validation `Model::encode` does.
fn raw_body(m: &Model<'_>) -> Vec<u8> {
    postcard::to_stdvec(m).unwrap()
}

#[test]
fn realistic_model_round_trips() {
    let parts = fixtures::realistic();
    let m = parts.model();
    let bytes = encode_to_vec(&m);
    // Header, field by field.
    assert_eq!(&bytes[..4], &MAGIC);
    assert_eq!(&bytes[..4], b"HEBB");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), FORMAT_VERSION);
    let len = u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - HEADER_LEN);
    let crc = u32::from_le_bytes(bytes[10..14].try_into().unwrap());
    // CRC-32/ISO-HDLC is zlib's crc32: check value of "123456789" is 0xCBF43926.
    assert_eq!(CRC.checksum(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc, CRC.checksum(&bytes[HEADER_LEN..]));
    // The body is exactly the postcard encoding of the model.
    assert_eq!(&bytes[HEADER_LEN..], &raw_body(&m)[..]);

    let back = Model::decode(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(encode_to_vec(&back), bytes);
    // Borrowed, not copied: the weights of the decoded model point into the file.
    let w = back.layers[1].weights;
    let start = w.as_ptr() as usize - bytes.as_ptr() as usize;
    assert!(start > HEADER_LEN && start + w.len() <= bytes.len());
    assert_eq!(back.feature_shape(), Shape::new(100, 5, 5));
    assert_eq!(back.provenance.preset, "kheradpisheh2018");
    assert_eq!(&back.provenance.epochs[..], &[2, 20]);
}

#[test]
fn encode_modes_keep_their_wire_index() {
    // Model files hold the variant index: renaming a mode must not renumber it.
    for (mode, index) in [(EncodeMode::Latency, 0u8), (EncodeMode::AllAtFirstStep, 1)] {
        assert_eq!(postcard::to_stdvec(&mode).unwrap(), [index]);
        assert_eq!(postcard::from_bytes::<EncodeMode>(&[index]).unwrap(), mode);
    }
}

#[test]
fn nan_accuracy_survives_bit_exactly() {
    let parts = fixtures::tiny();
    let bytes = parts.encode();
    let back = Model::decode(&bytes).unwrap();
    assert!(back.provenance.test_accuracy.is_nan());
    assert_eq!(
        back.provenance.test_accuracy.to_bits(),
        parts.test_accuracy.to_bits()
    );
    assert_eq!(encode_to_vec(&back), bytes);
}

#[test]
fn bad_magic() {
    let mut bytes = fixtures::tiny().encode();
    bytes[3] = b'X';
    assert_eq!(Model::decode(&bytes), Err(Error::BadMagic));
    assert_eq!(
        Model::decode(b"PK\x03\x04 a zip file"),
        Err(Error::BadMagic)
    );
    assert_eq!(Model::decode(b"XY"), Err(Error::BadMagic));
    // A prefix of the magic is a truncated file, not a foreign one.
    assert_eq!(Model::decode(b"HE"), Err(Error::Truncated));
    assert_eq!(Model::decode(b""), Err(Error::Truncated));
}

#[test]
fn unsupported_version() {
    let bytes = fixtures::tiny().encode();
    for v in [0u16, 3, 0xFFFF] {
        let mut b = bytes.clone();
        b[4..6].copy_from_slice(&v.to_le_bytes());
        assert_eq!(Model::decode(&b), Err(Error::UnsupportedVersion(v)));
    }
    // The version is checked before the body: a future version with any body is named as such.
    assert_eq!(
        Model::decode(&frame(3, b"anything")),
        Err(Error::UnsupportedVersion(3))
    );
}

/// Version 2 frames carry a family tag: a convolutional STDP body in a version-2 frame decodes
/// to the same model as its version-1 file; a body tagged with another family is refused as
/// such, and the header alone tells both apart.
#[test]
fn family_tagged_frames() {
    use hebb_core::frame::{self, FAMILY_CONV_STDP, HEADER_V1, HEADER_V2};
    let v1 = fixtures::tiny().encode();
    let body = &v1[HEADER_V1..];
    let seal = |family: u16| {
        let mut buf = vec![0u8; HEADER_V2 + body.len()];
        let h = frame::header_len(family);
        buf[h..h + body.len()].copy_from_slice(body);
        let n = frame::seal(family, &mut buf, body.len()).unwrap();
        buf.truncate(n);
        buf
    };
    // The conv family is written as version 1, byte for byte what Model::encode writes.
    assert_eq!(seal(FAMILY_CONV_STDP), v1);
    let h = frame::peek(&v1[..frame::MAX_HEADER]).unwrap();
    assert_eq!(
        (h.version, h.family, h.file_len()),
        (1, FAMILY_CONV_STDP, v1.len())
    );
    // Another family: version 2, 16-byte header, refused by the conv decoder with its tag.
    let other = seal(7);
    assert_eq!(u16::from_le_bytes([other[4], other[5]]), 2);
    assert_eq!(u16::from_le_bytes([other[6], other[7]]), 7);
    let h = frame::peek(&other).unwrap();
    assert_eq!((h.version, h.family, h.header_len), (2, 7, HEADER_V2));
    assert_eq!(frame::open(&other).unwrap().1, body);
    assert_eq!(Model::decode(&other), Err(Error::WrongFamily(7)));
    // A version-2 frame tagged conv-stdp holds a conv model.
    let mut v2 = vec![0u8; HEADER_V2 + body.len()];
    v2[..4].copy_from_slice(b"HEBB");
    v2[4..6].copy_from_slice(&2u16.to_le_bytes());
    v2[6..8].copy_from_slice(&FAMILY_CONV_STDP.to_le_bytes());
    v2[8..12].copy_from_slice(&(body.len() as u32).to_le_bytes());
    v2[12..16].copy_from_slice(&frame::CRC.checksum(body).to_le_bytes());
    v2[16..].copy_from_slice(body);
    // (Compared as text: the fixture's NaN accuracy is not equal to itself.)
    assert_eq!(
        format!("{:?}", Model::decode(&v2).unwrap()),
        format!("{:?}", Model::decode(&v1).unwrap())
    );
    // Damage in a version-2 frame is named as in version 1.
    let mut bad = other.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(matches!(frame::open(&bad), Err(Error::CrcMismatch { .. })));
    assert_eq!(
        frame::open(&other[..other.len() - 1]),
        Err(Error::Truncated)
    );
    assert_eq!(frame::peek(&other[..10]), Err(Error::Truncated));
}

#[test]
fn truncated_at_several_points() {
    let bytes = fixtures::realistic().encode();
    let n = bytes.len();
    for cut in [0, 1, 3, 4, 5, 9, 13, 14, 15, 100, n / 2, n - 2, n - 1] {
        assert_eq!(
            Model::decode(&bytes[..cut]),
            Err(Error::Truncated),
            "cut at {cut} of {n}"
        );
    }
    // A consistent frame around a cut body: the CRC passes, postcard runs out of bytes.
    let body = &bytes[HEADER_LEN..];
    let cut_body = &body[..body.len() / 3];
    assert_eq!(Model::decode(&frame(1, cut_body)), Err(Error::Truncated));
}

#[test]
fn trailing_bytes() {
    let bytes = fixtures::tiny().encode();
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(Model::decode(&long), Err(Error::TrailingBytes));
    // A frame whose body holds more than the model: the CRC passes, bytes are left over.
    let mut body = bytes[HEADER_LEN..].to_vec();
    body.extend_from_slice(&[0, 0, 0]);
    assert_eq!(Model::decode(&frame(1, &body)), Err(Error::TrailingBytes));
}

#[test]
fn crc_mismatch_names_both_values() {
    let bytes = fixtures::realistic().encode();
    let stored = CRC.checksum(&bytes[HEADER_LEN..]);
    for pos in [HEADER_LEN, HEADER_LEN + 1000, bytes.len() - 1] {
        for bit in [0, 7] {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            let computed = CRC.checksum(&b[HEADER_LEN..]);
            assert_ne!(computed, stored);
            assert_eq!(
                Model::decode(&b),
                Err(Error::CrcMismatch { stored, computed })
            );
        }
    }
    // A corrupted stored CRC is a mismatch too.
    let mut b = bytes.clone();
    b[12] ^= 0x10;
    assert!(matches!(
        Model::decode(&b),
        Err(Error::CrcMismatch { computed, .. }) if computed == stored
    ));
}

#[test]
fn malformed_body() {
    // The frame is right, the body is not postcard for a model (over-long varint).
    assert_eq!(Model::decode(&frame(1, &[0xFF; 32])), Err(Error::Malformed));
    // An invalid enum tag: the encoder mode sits right after h, w, n_filters, k, pad,
    // threshold, norm_radius, steps; 7 is no mode.
    let parts = fixtures::tiny();
    let mut body = raw_body(&parts.model());
    // h=4, w=4, n_filters=1, k=3, pad=1, threshold=0 (zigzag 0), norm_radius=0, steps=4, mode=0.
    assert_eq!(&body[..9], &[4, 4, 1, 3, 1, 0, 0, 4, 0]);
    body[8] = 7;
    assert_eq!(Model::decode(&frame(1, &body)), Err(Error::Malformed));
}

/// Applies `edit` to a copy of the tiny model's parts and checks that both `validate` and a
/// decode of the (unvalidated) encoding report `want`, and that `encode` refuses it.
fn expect_invalid(edit: impl FnOnce(&mut ModelParts), want: Error) {
    let mut parts = fixtures::tiny();
    edit(&mut parts);
    let m = parts.model();
    assert_eq!(m.validate(), Err(want));
    let mut buf = vec![0u8; 1 << 16];
    assert_eq!(m.encode(&mut buf).map(|b| b.len()), Err(want));
    let bytes = frame(1, &raw_body(&m));
    assert_eq!(Model::decode(&bytes), Err(want));
}

#[test]
fn shape_errors_found_by_validation() {
    fixtures::tiny().model().validate().unwrap();
    expect_invalid(
        |p| {
            p.layers[0].weights.pop();
        },
        Error::ShapeMismatch("weight bytes do not match the layer"),
    );
    expect_invalid(
        |p| p.layers[0].bits = 8,
        Error::ShapeMismatch("weight bytes do not match the layer"),
    );
    expect_invalid(
        |p| p.layers[0].bits = 12,
        Error::InvalidParam("weight width must be 8 or 16 bits"),
    );
    expect_invalid(
        |p| p.layers[0].thresholds[4..8].copy_from_slice(&0i32.to_le_bytes()),
        Error::InvalidParam("thresholds must be > 0"),
    );
    expect_invalid(
        |p| p.layers[0].thresholds[..4].copy_from_slice(&(-5i32).to_le_bytes()),
        Error::InvalidParam("thresholds must be > 0"),
    );
    expect_invalid(
        |p| p.layers[0].thresholds.truncate(4),
        Error::ShapeMismatch("threshold bytes do not match the layer"),
    );
    // A pool whose input is not the conv output (4×4×2): 5×5.
    expect_invalid(
        |p| {
            p.arch[0].pool = Some(PoolGeom::new(Shape::new(2, 5, 5), 2, 2, 0).unwrap());
        },
        Error::ShapeMismatch("pool input differs from conv output"),
    );
    // Adding a valid pool changes the feature shape: the readout no longer fits.
    expect_invalid(
        |p| p.arch[0].pool = Some(PoolGeom::new(Shape::new(2, 4, 4), 2, 2, 0).unwrap()),
        Error::ShapeMismatch("readout features differ from the last layer"),
    );
    // A layer reading a different shape than the encoder produces.
    expect_invalid(
        |p| {
            let g = p.arch[0].conv;
            let input = Shape { h: 5, ..g.input() };
            p.arch[0].conv = ConvGeom::try_from(ConvGeomRaw { input, ..g.into() }).unwrap();
        },
        Error::ShapeMismatch("layer input differs from previous output"),
    );
    expect_invalid(
        |p| {
            p.filters.pop();
        },
        Error::ShapeMismatch("filter bytes do not match the encoder"),
    );
    // A parameter out of its range cannot be built, only read: the decoder reports the error of
    // its constructor. Body byte 7 is the encoder's steps (see `bad_magic`).
    let mut body = raw_body(&fixtures::tiny().model());
    body[7] = 0;
    let want = Error::InvalidParam("encoder: steps must be in 1..=254");
    assert_eq!(Model::decode(&frame(1, &body)), Err(want));
    let raw = EncoderParamsRaw {
        steps: 0,
        ..fixtures::tiny().encoder.into()
    };
    assert_eq!(EncoderParams::try_from(raw), Err(want));
    expect_invalid(
        |p| {
            p.arch.clear();
            p.layers.clear();
        },
        Error::InvalidParam("model has no layers"),
    );
    expect_invalid(
        |p| {
            p.layers.pop();
        },
        Error::ShapeMismatch("layer blobs do not match the architecture"),
    );
    expect_invalid(
        |p| {
            if let Some(r) = p.readout.as_mut() {
                r.bias.truncate(4);
            }
        },
        Error::ShapeMismatch("readout bytes do not match its shape"),
    );
    expect_invalid(
        |p| {
            if let Some(r) = p.readout.as_mut() {
                r.n_classes = 0;
                r.bias.clear();
                r.weights.clear();
            }
        },
        Error::InvalidParam("readout has no classes"),
    );
}

#[test]
fn tiny_model_runs_inference() {
    let parts = fixtures::tiny();
    let bytes = parts.encode();
    let m = Model::decode(&bytes).unwrap();
    let mut filt = vec![0i32; m.encoder.n_kernel()];
    filters(&m, &mut filt).unwrap();
    let mut th = vec![0i32; m.arch[0].conv.out_c() as usize];
    thresholds(&m, 0, &mut th).unwrap();
    assert_eq!(th, [40_000, 70_000]);
    let n = m.encoder.n_out();
    let plane = m.encoder.h() as usize * m.encoder.w() as usize;
    let (mut resp, mut rows, mut keys) = (vec![0; n], vec![0; plane], vec![0; n]);
    let (mut a, mut b) = (vec![0; max_map(&m)], vec![0; max_map(&m)]);
    let mut v_row = vec![0; max_row(&m.arch)];
    let mut s = InferScratch {
        enc: EncodeScratch {
            resp: &mut resp,
            rows: &mut rows,
            keys: &mut keys,
        },
        a: &mut a,
        b: &mut b,
        v_row: &mut v_row,
    };
    let views: Vec<_> = m.layers.iter().map(|l| l.view()).collect();
    let mut feat = vec![0u32; words(m.feature_shape().len())];
    // A black image has no responses: no features, and the readout answers by its bias.
    let active = features(&m, &filt, &views, &[&th[..]], &[0; 16], &mut s, &mut feat).unwrap();
    assert_eq!(active, 0);
    let r = m.readout.unwrap();
    let mut scores = [0i32; 2];
    r.scores(&feat, &mut scores).unwrap();
    assert_eq!(scores, [1, -1]);
    // A bright spot makes the centre filter respond: the same image twice gives the same
    // features.
    let mut img = [0u8; 16];
    img[5] = 255;
    let mut f2 = feat.clone();
    let n1 = features(&m, &filt, &views, &[&th[..]], &img, &mut s, &mut feat).unwrap();
    let n2 = features(&m, &filt, &views, &[&th[..]], &img, &mut s, &mut f2).unwrap();
    assert_eq!((n1, &feat), (n2, &f2));
    assert!(n1 > 0);
}

// ---------------------------------------------------------------------------------------------
// Fuzz seed corpus: `valid-*` files decode, `bad-*` files do not, `body-*` files are bodies
// that decode once framed.

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode_model")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let tiny = fixtures::tiny().encode();
    let mut v = vec![("valid-tiny.hebb".to_string(), tiny.clone())];
    for seed in [1u64, 2, 3, 5, 8] {
        let bytes = fixtures::random(seed).encode();
        if bytes.len() <= 4096 {
            v.push((format!("valid-random-{seed}.hebb"), bytes));
        }
    }
    let mut magic = tiny.clone();
    magic[0] = b'h';
    let mut version = tiny.clone();
    version[4] = 2;
    let mut crc = tiny.clone();
    crc[HEADER_LEN + 3] ^= 0x04;
    let mut trailing = tiny.clone();
    trailing.push(0xAA);
    let mut threshold = fixtures::tiny();
    threshold.layers[0].thresholds[..4].copy_from_slice(&0i32.to_le_bytes());
    let bad = [
        ("bad-magic.hebb", magic),
        ("bad-version.hebb", version),
        ("bad-crc.hebb", crc),
        ("bad-trailing.hebb", trailing),
        ("bad-truncated.hebb", tiny[..tiny.len() / 2].to_vec()),
        ("bad-header-only.hebb", tiny[..HEADER_LEN].to_vec()),
        ("bad-body.hebb", frame(1, &[0xFF; 16])),
        (
            "bad-threshold.hebb",
            frame(1, &raw_body(&threshold.model())),
        ),
    ];
    v.extend(bad.into_iter().map(|(n, b)| (n.to_string(), b)));
    // Bare bodies: the fuzz target also decodes every input framed with a correct header.
    v.push(("body-tiny.bin".into(), tiny[HEADER_LEN..].to_vec()));
    let r3 = fixtures::random(3).encode();
    v.push(("body-random-3.bin".into(), r3[HEADER_LEN..].to_vec()));
    v
}

/// Writes the seed corpus (run with `--ignored` after a format change, then commit the files).
#[test]
#[ignore = "writes fuzz/corpus/decode_model"]
fn write_fuzz_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in corpus() {
        std::fs::write(dir.join(&name), bytes).unwrap();
    }
}

#[test]
fn fuzz_corpus_is_current() {
    let dir = corpus_dir();
    if !dir.exists() {
        return;
    }
    for (name, bytes) in corpus() {
        let on_disk = std::fs::read(dir.join(&name))
            .unwrap_or_else(|e| panic!("{name}: {e} (run write_fuzz_corpus --ignored)"));
        assert_eq!(
            on_disk, bytes,
            "{name} is stale (run write_fuzz_corpus --ignored)"
        );
        let r = Model::decode(&on_disk);
        if name.starts_with("valid-") {
            assert!(r.is_ok(), "{name}: {r:?}");
        } else if name.starts_with("body-") {
            assert!(r.is_err());
            let framed = frame(1, &on_disk);
            let r = Model::decode(&framed);
            assert!(r.is_ok(), "{name} framed: {r:?}");
        } else {
            assert!(r.is_err(), "{name} decodes");
        }
    }
}
