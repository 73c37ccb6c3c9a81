use hebb::data::events::{nmnist, saccade};
use hebb_core::rng::Rng;
fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let limit: usize = std::env::args()
        .nth(2)
        .map_or(usize::MAX, |s| s.parse().unwrap());
    let split = hebb::data::DataSource::EmbeddedMnist.load().unwrap();
    let p = saccade::SaccadeParams::default();
    for (name, set, base) in [
        ("Train", &split.train, 0u64),
        ("Test", &split.test, 1u64 << 32),
    ] {
        for (i, (img, l)) in set.iter().enumerate().take(limit) {
            let mut rng = Rng::new(base + i as u64);
            let rec = saccade::record(img, 28, 28, &p, &mut rng).unwrap();
            let d = out.join(name).join(l.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join(format!("{i:05}.bin")),
                nmnist::encode(&rec.events).unwrap(),
            )
            .unwrap();
        }
    }
}
