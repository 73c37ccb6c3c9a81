//! A second family written only against the `Trainer` trait (a toy: a vector that learns the
//! running mean of its data in two stages) gets the whole run folder, exact resume, Ctrl-C and
//! the keep policy from the shared run loop, without a line of the loop written for it.

use anyhow::{Result, bail};
use hebb::family::Family;
use hebb::run::{
    Ctx, EpochReport, FinalReport, ProgressConfig, RunFolder, RunOptions, RunOutcome, RunState,
    Trainer, interrupt, run,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

const STAGES: [&str; 2] = ["coarse", "fine"];
const EPOCHS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    w: [f64; 2],
    stage: usize,
    epoch: u32,
    pos: u64,
    done: u64,
    run: Vec<u8>,
}

#[derive(Debug)]
struct Toy {
    st: State,
    progress: ProgressConfig,
    /// Ask for a stop (as Ctrl-C does) once this many units are done.
    ctrl_c_at: Option<u64>,
}

impl Toy {
    fn new() -> Self {
        Self {
            st: State {
                w: [0.0; 2],
                stage: 0,
                epoch: 0,
                pos: 0,
                done: 0,
                run: Vec::new(),
            },
            progress: ProgressConfig { show: false },
            ctrl_c_at: None,
        }
    }
    fn from_checkpoint(bytes: &[u8]) -> Result<(Self, RunState)> {
        let st: State = postcard::from_bytes(bytes)?;
        let rs = RunState::from_bytes(&st.run)?;
        let mut t = Self::new();
        t.st = st;
        Ok((t, rs))
    }
    fn rate(&self) -> f64 {
        [0.1, 0.01][self.st.stage]
    }
}

impl Trainer for Toy {
    type Data = Vec<[f64; 2]>;
    type Pattern = [f64; 2];
    type Prediction = f64;

    fn family(&self) -> Family {
        Family::Custom(Family::CUSTOM_MIN + 1)
    }
    fn configure_progress(&mut self, p: ProgressConfig) {
        self.progress = p;
    }
    fn progress(&self) -> ProgressConfig {
        self.progress
    }
    fn begin(&mut self, data: &Self::Data, _: &Ctx<'_>) -> Result<()> {
        if data.is_empty() {
            bail!("no data");
        }
        Ok(())
    }
    fn stages_done(&self) -> bool {
        self.st.stage >= STAGES.len()
    }
    fn begin_epoch(&mut self, _: &Self::Data, _: &Ctx<'_>) -> Result<()> {
        Ok(())
    }
    fn epoch_label(&self) -> String {
        format!("{} {}", STAGES[self.st.stage], self.st.epoch + 1)
    }
    fn epoch_progress(&self, data: &Self::Data) -> (u64, u64) {
        (data.len() as u64, self.st.pos)
    }
    fn chunk(&self) -> u64 {
        7
    }
    fn step(&mut self, data: &Self::Data, until: u64) -> Result<()> {
        for i in self.st.pos..until {
            let x = data[i as usize];
            let r = self.rate();
            for (w, x) in self.st.w.iter_mut().zip(x) {
                *w += r * (x - *w);
            }
            self.st.done += 1;
            if Some(self.st.done) == self.ctrl_c_at {
                interrupt::request();
            }
        }
        self.st.pos = until;
        Ok(())
    }
    fn end_epoch(&mut self, _: &Self::Data, ctx: &Ctx<'_>) -> Result<EpochReport> {
        self.st.epoch += 1;
        self.st.pos = 0;
        let stage = STAGES[self.st.stage].to_owned();
        let epoch = self.st.epoch;
        if let Some(dir) = ctx.plots {
            std::fs::write(dir.join(format!("{stage}.txt")), format!("{:?}", self.st.w))?;
        }
        let done = (epoch == EPOCHS).then(|| "epoch budget".to_owned());
        if done.is_some() {
            self.st.stage += 1;
            self.st.epoch = 0;
        }
        Ok(EpochReport {
            stage,
            epoch,
            record: serde_json::json!({ "epoch": epoch, "w": self.st.w }),
            scalars: vec![("w0".into(), self.st.w[0])],
            improved: epoch == 1,
            stage_done: done,
        })
    }
    fn finish(&mut self, _: &Self::Data, ctx: &Ctx<'_>) -> Result<FinalReport> {
        ctx.check()?;
        Ok(FinalReport {
            model: postcard::to_stdvec(&self.st.w)?,
            summary: serde_json::json!({ "w": self.st.w }),
            scalars: vec![("final/w1".into(), self.st.w[1])],
            headline: vec![format!("w = {:?}", self.st.w)],
        })
    }
    fn checkpoint(&self, run_state: &[u8]) -> Result<Vec<u8>> {
        let mut st = self.st.clone();
        st.run = run_state.to_vec();
        Ok(postcard::to_stdvec(&st)?)
    }
    fn units_done(&self) -> u64 {
        self.st.done
    }
    fn predict(&self, p: &[f64; 2]) -> Result<f64> {
        Ok(p[0] * self.st.w[0] + p[1] * self.st.w[1])
    }
}

fn data() -> Vec<[f64; 2]> {
    (0..50)
        .map(|i| [f64::from(i % 7), f64::from(i % 5) * 0.5])
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("events/"))
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn opts(keep: usize) -> RunOptions {
    RunOptions {
        tensorboard: true,
        keep,
        config_toml: "family = \"toy\"\n".into(),
        ..RunOptions::default()
    }
}

/// One test: the Ctrl-C case sets the process-wide flag, which would stop parallel cases.
#[test]
fn a_toy_family_gets_the_whole_run_loop() {
    let root = tempfile::tempdir().unwrap();
    let d = data();

    // Uninterrupted, into a run folder.
    let full = RunFolder::create(root.path(), Some("full"), false).unwrap();
    let mut t = Toy::new();
    let RunOutcome::Done(fin) = run(&mut t, &d, Some(&full), &opts(0)).unwrap() else {
        panic!("not done")
    };
    let want_w = t.st.w;
    assert_eq!(fin.headline, vec![format!("w = {want_w:?}")]);
    let mut want_files: Vec<String> = [
        ".lock",
        "config.toml",
        "model.hebb",
        "metrics.jsonl",
        "metrics_final.json",
        "logs/train.log",
        "plots/coarse.txt",
        "plots/fine.txt",
        "checkpoints/checkpoint_best.hebb",
        "checkpoints/checkpoint_latest.hebb",
    ]
    .map(str::to_owned)
    .to_vec();
    for s in STAGES {
        for e in 1..=EPOCHS {
            want_files.push(format!("checkpoints/checkpoint_epoch{e:03}_{s}.hebb"));
        }
    }
    want_files.sort();
    assert_eq!(files(full.root()), want_files);
    assert!(
        std::fs::read_dir(full.root().join("events"))
            .unwrap()
            .count()
            == 1
    );
    let records = std::fs::read_to_string(full.file("metrics.jsonl")).unwrap();
    assert_eq!(records.lines().count(), STAGES.len() * EPOCHS as usize);
    assert_eq!(
        std::fs::read(full.file("model.hebb")).unwrap(),
        postcard::to_stdvec(&want_w).unwrap()
    );
    drop(full);

    // Ctrl-C in the middle of the second stage's first epoch: the loop saves a checkpoint.
    let cut = RunFolder::create(root.path(), Some("cut"), false).unwrap();
    let mut t = Toy::new();
    t.ctrl_c_at = Some(3 * 50 + 20);
    let out = run(&mut t, &d, Some(&cut), &opts(2)).unwrap();
    interrupt::reset();
    let RunOutcome::Interrupted(Some(ck)) = out else {
        panic!("not interrupted: {out:?}")
    };
    assert_eq!(ck, cut.latest());
    assert!(!cut.file("model.hebb").exists());
    // Chunks are 7 units: the stop lands at the end of the chunk that saw it.
    let (mut t2, rs) = Toy::from_checkpoint(&std::fs::read(&ck).unwrap()).unwrap();
    assert_eq!((t2.st.stage, t2.st.pos, t2.st.done), (1, 21, 171));
    // The keep policy: two epoch checkpoints left, the newest.
    let mut eps: Vec<String> = files(cut.root())
        .into_iter()
        .filter(|f| f.contains("_epoch"))
        .collect();
    eps.sort();
    assert_eq!(
        eps,
        vec![
            "checkpoints/checkpoint_epoch002_coarse.hebb",
            "checkpoints/checkpoint_epoch003_coarse.hebb"
        ]
    );
    drop(cut);

    // Resume: the same weights and the same records as the uninterrupted run.
    let cut = RunFolder::open(&root.path().join("cut")).unwrap();
    let mut o = opts(2);
    o.resume = Some(rs);
    let RunOutcome::Done(_) = run(&mut t2, &d, Some(&cut), &o).unwrap() else {
        panic!("not done")
    };
    assert_eq!(t2.st.w, want_w);
    assert_eq!(
        std::fs::read_to_string(cut.file("metrics.jsonl")).unwrap(),
        records
    );
    assert_eq!(
        std::fs::read(cut.file("model.hebb")).unwrap(),
        std::fs::read(root.path().join("full/model.hebb")).unwrap()
    );

    // The CANNs-shaped library call: train over data without a folder, then predict.
    let mut t3 = Toy::new();
    let fin = t3.train(&d).unwrap();
    assert_eq!(t3.st.w, want_w);
    assert_eq!(fin.model, postcard::to_stdvec(&want_w).unwrap());
    let p = t3.predict(&[1.0, 2.0]).unwrap();
    assert_eq!(p, want_w[0] + 2.0 * want_w[1]);
    assert_eq!(
        t3.predict_batch(&[&[1.0, 2.0], &[0.0, 1.0]]).unwrap(),
        vec![p, want_w[1]]
    );
    assert!(
        files(root.path())
            .iter()
            .all(|f| f.starts_with("full/") || f.starts_with("cut/"))
    );
}
