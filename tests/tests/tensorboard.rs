//! TensorBoard event files: the TFRecord framing and the Event protobufs are decoded back
//! with an independent CRC-32C and a small hand-written protobuf reader.

use std::collections::BTreeMap;

use hebb::tensorboard::{EventWriter, FILE_VERSION, encode_scalar_event, frame_record};

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit.
fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn masked(c: u32) -> u32 {
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap())
}

/// Splits a TFRecord file into record payloads, asserting both CRCs of every record.
fn read_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        assert_eq!(
            u32_le(&bytes[at + 8..at + 12]),
            masked(crc32c(len_bytes)),
            "length CRC"
        );
        let data = &bytes[at + 12..at + 12 + len];
        let crc = u32_le(&bytes[at + 12 + len..at + 16 + len]);
        assert_eq!(crc, masked(crc32c(data)), "data CRC");
        out.push(data.to_vec());
        at += 16 + len;
    }
    assert_eq!(at, bytes.len(), "no partial record at the end");
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

fn varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long");
}

/// Decodes one protobuf message into (field number, value) pairs, in order.
fn fields(b: &[u8]) -> Vec<(u64, Field)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let key = varint(b, &mut at);
        let f = match key & 7 {
            0 => Field::Varint(varint(b, &mut at)),
            1 => {
                at += 8;
                Field::Fixed64(b[at - 8..at].try_into().unwrap())
            }
            2 => {
                let n = varint(b, &mut at) as usize;
                at += n;
                Field::Bytes(b[at - n..at].to_vec())
            }
            5 => {
                at += 4;
                Field::Fixed32(b[at - 4..at].try_into().unwrap())
            }
            t => panic!("unexpected wire type {t}"),
        };
        out.push((key >> 3, f));
    }
    out
}

fn get(fs: &[(u64, Field)], n: u64) -> Option<&Field> {
    fs.iter().find(|(k, _)| *k == n).map(|(_, f)| f)
}

#[derive(Debug, PartialEq)]
struct Event {
    wall_time: f64,
    step: i64,
    file_version: Option<String>,
    scalar: Option<(String, f32)>,
}

fn decode_event(b: &[u8]) -> Event {
    let fs = fields(b);
    let wall_time = match get(&fs, 1) {
        Some(Field::Fixed64(x)) => f64::from_le_bytes(*x),
        other => panic!("wall_time: {other:?}"),
    };
    let step = match get(&fs, 2) {
        Some(Field::Varint(v)) => *v as i64,
        None => 0,
        other => panic!("step: {other:?}"),
    };
    let file_version = match get(&fs, 3) {
        Some(Field::Bytes(s)) => Some(String::from_utf8(s.clone()).unwrap()),
        _ => None,
    };
    let scalar = match get(&fs, 5) {
        Some(Field::Bytes(summary)) => {
            let sf = fields(summary);
            assert_eq!(sf.len(), 1, "one value per summary");
            let Some(Field::Bytes(value)) = get(&sf, 1) else {
                panic!("summary.value")
            };
            let vf = fields(value);
            let Some(Field::Bytes(tag)) = get(&vf, 1) else {
                panic!("value.tag")
            };
            let Some(Field::Fixed32(v)) = get(&vf, 2) else {
                panic!("value.simple_value")
            };
            Some((
                String::from_utf8(tag.clone()).unwrap(),
                f32::from_le_bytes(*v),
            ))
        }
        None => None,
        other => panic!("summary: {other:?}"),
    };
    Event {
        wall_time,
        step,
        file_version,
        scalar,
    }
}

#[test]
fn crc32c_reference_vector() {
    // The standard check value of CRC-32C.
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn framing_round_trip() {
    let ev = encode_scalar_event(1.5, "a/b", 0.25, 300);
    let rec = frame_record(&ev);
    assert_eq!(rec.len(), ev.len() + 16);
    assert_eq!(read_records(&rec), vec![ev.clone()]);
    let dec = decode_event(&ev);
    assert_eq!(
        dec,
        Event {
            wall_time: 1.5,
            step: 300,
            file_version: None,
            scalar: Some(("a/b".into(), 0.25)),
        }
    );
    // Negative steps are 10-byte two's-complement varints in int64 fields.
    assert_eq!(
        decode_event(&encode_scalar_event(0.0, "t", -1.0, -7)).step,
        -7
    );
    // A long tag needs a multi-byte length prefix.
    let tag = "x".repeat(300);
    let dec = decode_event(&encode_scalar_event(0.0, &tag, f32::MAX, i64::MAX));
    assert_eq!(dec.scalar, Some((tag, f32::MAX)));
    assert_eq!(dec.step, i64::MAX);
}

#[test]
fn writer_file_decodes_to_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut w = EventWriter::create(&dir.path().join("run1")).unwrap();
    let written: Vec<(&str, f32, i64)> = vec![
        ("train/accuracy", 0.0, 0),
        ("train/accuracy", 0.5, 1),
        ("train/accuracy", 0.875, 2),
        ("layer1/spike_rate", 0.031_25, 2),
        ("loss", -3.5, 1_000_000),
    ];
    for &(tag, v, s) in &written {
        w.add_scalar(tag, v, s).unwrap();
    }
    w.flush().unwrap();
    let path = w.path().to_path_buf();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    assert_eq!(path.parent().unwrap(), dir.path().join("run1"));

    let records = read_records(&std::fs::read(&path).unwrap());
    assert_eq!(records.len(), written.len() + 1);
    let first = decode_event(&records[0]);
    assert_eq!(first.file_version.as_deref(), Some(FILE_VERSION));
    assert_eq!(first.scalar, None);
    let mut by_tag: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for (rec, &(tag, v, s)) in records[1..].iter().zip(&written) {
        let ev = decode_event(rec);
        assert!(ev.wall_time >= before.floor() && ev.wall_time < before + 3600.0);
        assert_eq!(ev.step, s);
        assert_eq!(ev.scalar, Some((tag.to_owned(), v)));
        by_tag.entry(tag.to_owned()).or_default().push((ev.step, v));
    }
    assert_eq!(
        by_tag["train/accuracy"],
        vec![(0, 0.0), (1, 0.5), (2, 0.875)]
    );

    // A second writer in the same folder and second gets its own file.
    let w2 = EventWriter::create(&dir.path().join("run1")).unwrap();
    assert_ne!(w2.path(), path);
    drop(w);
    assert_eq!(read_records(&std::fs::read(w2.path()).unwrap()).len(), 1);
}
