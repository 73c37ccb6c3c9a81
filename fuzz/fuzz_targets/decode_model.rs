//! Feeds arbitrary bytes to the `.hebb` decoder. It must return an error or a model that
//! re-encodes to the same bytes (or, for an input that spells a varint with more bytes than
//! needed, to a shorter canonical encoding of the same model) and that inference can run on.
//! It must never panic. Each input is tried as a whole file and as the body of a correct frame.
#![no_main]

use hebb_core::convergence::c_l_parts;
use hebb_core::encode::EncodeScratch;
use hebb_core::model::{CRC, FORMAT_VERSION, HEADER_LEN, MAGIC, Model};
use hebb_core::network::{InferScratch, features, filters, max_map, max_row, thresholds};
use hebb_core::spikes::words;

/// Largest buffer (elements) the target allocates for inference.
const MAX_ELEMS: usize = 1 << 16;
/// Largest rough operation count of one inference the target runs.
const MAX_WORK: usize = 1 << 22;

fn encode(m: &Model<'_>, extra: usize) -> Vec<u8> {
    let mut buf = vec![0u8; extra];
    let n = m
        .encode(&mut buf)
        .expect("a decoded model encodes into a buffer as large as its input")
        .len();
    buf.truncate(n);
    buf
}

fn run_inference(m: &Model<'_>) {
    let e = &m.encoder;
    let (n, plane, k) = (e.n_out(), e.h() as usize * e.w() as usize, e.k() as usize);
    let mut work = n * (k * k + 4 * e.norm_radius() as usize + 2);
    for a in m.arch.iter() {
        let c = &a.conv;
        work = work.saturating_add(c.input().len() * c.k() as usize * c.k() as usize * c.out_c() as usize);
        work = work.saturating_add(c.output().len());
    }
    let (mm, mr, nf) = (max_map(m), max_row(&m.arch), m.feature_shape().len());
    if n > MAX_ELEMS || mm > MAX_ELEMS || mr > MAX_ELEMS || nf > MAX_ELEMS || work > MAX_WORK {
        return;
    }
    let mut filt = vec![0i32; e.n_kernel()];
    filters(m, &mut filt).expect("filters were validated");
    let th: Vec<Vec<i32>> = (0..m.arch.len())
        .map(|l| {
            let mut t = vec![0i32; m.arch[l].conv.out_c() as usize];
            thresholds(m, l, &mut t).expect("thresholds were validated");
            t
        })
        .collect();
    let th_refs: Vec<&[i32]> = th.iter().map(Vec::as_slice).collect();
    let views: Vec<_> = m.layers.iter().map(|l| l.view()).collect();
    for v in &views {
        let (sum, count) = c_l_parts(v);
        assert!(sum <= u128::from(count) << 30, "C_l above 0.25");
    }
    let (mut resp, mut rows, mut keys) = (vec![0; n], vec![0; plane], vec![0; n]);
    let (mut a, mut b) = (vec![0u8; mm], vec![0u8; mm]);
    let mut v_row = vec![0i32; mr];
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
    let mut feat = vec![0u32; words(nf)];
    for fill in [0u8, 255] {
        let image = vec![fill; plane];
        // Layers that are not IF make `features` return an error; that is fine.
        if let Ok(active) = features(m, &filt, &views, &th_refs, &image, &mut s, &mut feat) {
            assert!(active <= nf);
            if let Some(r) = &m.readout {
                let mut scores = vec![0i32; r.n_classes as usize];
                r.scores(&feat, &mut scores)
                    .expect("readout fits the features");
                assert!(hebb_core::readout::argmax(&scores).is_some());
            }
        }
    }
}

/// Decodes `data`; on success checks the re-encoding and runs inference.
fn check(data: &[u8]) {
    let Ok(m) = Model::decode(data) else {
        return;
    };
    let re = encode(&m, data.len() + 64);
    if re != data {
        // postcard accepts over-long varints, so the same model has longer spellings; the
        // encoder always writes the shortest one, and that one is a fixed point.
        assert!(
            re.len() < data.len(),
            "re-encoding differs from a canonical input"
        );
        let m2 = Model::decode(&re).expect("the re-encoded model decodes");
        assert_eq!(encode(&m2, re.len() + 64), re, "encoding is not canonical");
    }
    run_inference(&m);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The bytes as a whole file: frame, CRC, body.
    check(data);
    // The bytes as a body in a correct frame, so that mutations reach the postcard decoder and
    // the validation without having to forge a CRC.
    let mut framed = Vec::with_capacity(HEADER_LEN + data.len());
    framed.extend_from_slice(&MAGIC);
    framed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(&CRC.checksum(data).to_le_bytes());
    framed.extend_from_slice(data);
    check(&framed);
});
