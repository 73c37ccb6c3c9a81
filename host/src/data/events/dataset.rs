//! Event recordings as a labelled data set for the convolutional STDP networks: each sample is
//! the voxel grid ([`hebb_core::events::voxel`]) the network's event encoder
//! ([`EncodeMode::Events`]) takes, `steps × channels` frames of the encoder's `h × w` raster.
//! A [`Dataset`] holds it as a `(steps · channels · h) × w` "image", frames stacked.
//!
//! Two folder layouts are read (`--data events:DIR`):
//! * **N-MNIST** (also what `hebb events synth nmnist` writes): `Train/<label>/*.bin` and
//!   `Test/<label>/*.bin`, one recording per sample, the label from the folder name; a
//!   recording is binned whole (or cut into windows when the config asks for them);
//! * **EBSSA-like** `.mat` recordings (`TD` events, `Obj` labels), in `Train/` and `Test/`
//!   subfolders or, without them, every fifth recording (by name) held out for testing: each
//!   recording is cut into windows (`encoder.events.window_ms` / `stride_ms`), one sample per
//!   window that holds events, labelled 1 when an object label (`Obj`) falls in it, else 0.
//!
//! Each file is read once; its windows are slices of one time-sorted event array.

use super::{Event, Recording, mat, nmnist};
use crate::data::{DataError, Dataset, Split};
use hebb_core::encode::{EncodeMode, EncoderParams};
use hebb_core::events::voxel::{Binning, VoxelParams, voxelize};
use hebb_core::events::window::WindowParams;
use std::path::{Path, PathBuf};

/// What one sample is made of: the encoder's bins, channels, binning and raster, and how a
/// long recording is cut into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInput {
    /// Time bins (the encoder's steps).
    pub steps: u16,
    /// Polarity channels (1 or 2).
    pub channels: u8,
    /// Time binning.
    pub binning: Binning,
    /// Raster (columns, rows).
    pub raster: (u16, u16),
    /// Windows over a recording (`None`: a recording is one sample).
    pub window: Option<WindowParams>,
}

impl EventInput {
    /// The input of an event encoder; an image encoder is refused.
    pub fn of(enc: &EncoderParams) -> Result<Self, DataError> {
        let EncodeMode::Events(e) = enc.mode() else {
            return Err(DataError::Unsuitable(
                "event recordings need an event encoder (`encoder.mode = \"events\"`, e.g. the \
                 nmnist-events or igarss2023 preset)"
                    .into(),
            ));
        };
        Ok(Self {
            steps: u16::from(enc.steps()),
            channels: e.channels,
            binning: e.binning,
            raster: (enc.w(), enc.h()),
            window: e.windows(),
        })
    }

    /// Bytes of one sample.
    pub fn sample_len(&self) -> usize {
        usize::from(self.steps)
            * usize::from(self.channels)
            * usize::from(self.raster.0)
            * usize::from(self.raster.1)
    }

    /// Voxel parameters for a recording of `sensor` (columns, rows).
    pub fn voxel(&self, sensor: (u16, u16)) -> Result<VoxelParams, DataError> {
        VoxelParams::new(
            self.steps,
            self.raster,
            sensor,
            self.channels == 2,
            self.binning,
        )
        .map_err(|e| DataError::Unsuitable(format!("voxel grid: {e}")))
    }

    /// The samples of one recording, appended to `out`; returns how many. Without windows the
    /// whole recording is one sample (fixed bins start at its first event).
    pub fn samples(&self, rec: &Recording, out: &mut Vec<u8>) -> Result<usize, DataError> {
        let mut starts = Vec::new();
        self.samples_at(rec, out, &mut starts)
    }

    /// [`EventInput::samples`], also listing each sample's start time in `starts`.
    pub fn samples_at(
        &self,
        rec: &Recording,
        out: &mut Vec<u8>,
        starts: &mut Vec<u64>,
    ) -> Result<usize, DataError> {
        let vp = self.voxel((rec.width, rec.height))?;
        let mut push = |events: &[Event], start: u64| -> Result<(), DataError> {
            starts.push(start);
            let at = out.len();
            out.resize(at + self.sample_len(), 0);
            voxelize(&vp, events, start, &mut out[at..])
                .map_err(|e| DataError::Unsuitable(format!("voxel grid: {e}")))?;
            Ok(())
        };
        let Some((t0, t1)) = rec.span() else {
            return Ok(0);
        };
        match self.window {
            None => {
                push(&rec.events, t0)?;
                Ok(1)
            }
            Some(w) => {
                let mut n = 0;
                for win in w.over(&rec.events, t0, t1) {
                    if !win.events.is_empty() {
                        push(win.events, win.start)?;
                        n += 1;
                    }
                }
                Ok(n)
            }
        }
    }
}

/// The subfolder of `dir` named `name` in any case.
fn subdir(dir: &Path, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let p = e.path();
        (p.is_dir() && e.file_name().to_string_lossy().eq_ignore_ascii_case(name)).then_some(p)
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Files under `dir` (recursively) whose extension is `ext`, sorted by path.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = e.map_err(io(dir))?.path();
        if p.is_dir() {
            files(&p, ext, out)?;
        } else if p
            .extension()
            .is_some_and(|x| x.to_string_lossy().eq_ignore_ascii_case(ext))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(())
}

fn read_events(path: &Path) -> Result<Vec<u8>, DataError> {
    super::read_file(path).map_err(|source| DataError::Events {
        path: path.to_path_buf(),
        source,
    })
}

/// One N-MNIST split folder: `<label>/*.bin`.
fn nmnist_split(dir: &Path, input: &EventInput) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let mut classes: Vec<(u8, PathBuf)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = e.map_err(io(dir))?.path();
        if p.is_dir()
            && let Some(l) = p.file_name().and_then(|n| n.to_str()?.parse::<u8>().ok())
        {
            classes.push((l, p));
        }
    }
    classes.sort();
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let (w, h) = nmnist::NMNIST_SIZE;
    for (label, cdir) in classes {
        let mut list = Vec::new();
        files(&cdir, "bin", &mut list)?;
        for f in list {
            let bytes = read_events(&f)?;
            let rec = nmnist::read(&bytes, w, h).map_err(|source| DataError::Events {
                path: f.clone(),
                source,
            })?;
            let n = input.samples(&rec, &mut images)?;
            labels.extend(std::iter::repeat_n(label, n));
        }
    }
    Ok((images, labels))
}

/// EBSSA-like recordings: every window of every file, labelled 1 when an object label falls
/// in it, else 0.
fn ebssa_files(list: &[PathBuf], input: &EventInput) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    if input.window.is_none() {
        return Err(DataError::Unsuitable(
            "long recordings (.mat) are cut into windows: set `encoder.events.window_ms`".into(),
        ));
    }
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for f in list {
        let bytes = read_events(f)?;
        let (rec, objects) =
            mat::read_ebssa(&bytes, u16::MAX, u16::MAX).map_err(|source| DataError::Events {
                path: f.clone(),
                source,
            })?;
        let rec = on_known_sensor(rec).map_err(|source| DataError::Events {
            path: f.clone(),
            source,
        })?;
        let mut starts = Vec::new();
        input.samples_at(&rec, &mut images, &mut starts)?;
        let len = input.window.map_or(u64::MAX, |w| w.length_us());
        labels.extend(
            starts
                .iter()
                .map(|&s| u8::from(objects.iter().any(|o| o.t >= s && o.t - s < len))),
        );
    }
    Ok((images, labels))
}

/// Sensors EBSSA-like recordings come from (columns, rows), smallest first.
pub const KNOWN_SENSORS: [(&str, u16, u16); 3] = [
    ("DAVIS240C", 240, 180),
    ("ATIS", 304, 240),
    ("DAVIS346", 346, 260),
];

/// A recording read without a declared sensor, put on the smallest known sensor that holds
/// every event (MAT files do not store the geometry); an event beyond all of them is an error.
pub fn on_known_sensor(rec: Recording) -> Result<Recording, super::EventError> {
    let mx = rec.events.iter().map(|e| e.x).max().unwrap_or(0);
    let my = rec.events.iter().map(|e| e.y).max().unwrap_or(0);
    let (_, w, h) = KNOWN_SENSORS
        .iter()
        .copied()
        .find(|&(_, w, h)| mx < w && my < h)
        .unwrap_or(KNOWN_SENSORS[KNOWN_SENSORS.len() - 1]);
    Recording::new("EBSSA .mat", w, h, rec.events)
}

fn dataset(
    (images, labels): (Vec<u8>, Vec<u8>),
    input: &EventInput,
    n_classes: usize,
    what: &Path,
) -> Result<Dataset, DataError> {
    if labels.is_empty() {
        return Err(DataError::NotFound {
            path: what.to_path_buf(),
            hint: "no recording with events here".into(),
        });
    }
    let (w, h) = (usize::from(input.raster.0), usize::from(input.raster.1));
    let frames = usize::from(input.steps) * usize::from(input.channels);
    Dataset::new(images, labels, frames * h, w, n_classes)
}

/// Loads an event data set from `dir` (see the module docs). `n_classes = None` infers it
/// from the largest label.
pub fn load(dir: &Path, input: &EventInput, n_classes: Option<usize>) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
            hint: "an N-MNIST-style folder (Train/<label>/*.bin, Test/<label>/*.bin) or a folder \
                   of EBSSA .mat recordings; `hebb events synth` writes either"
                .into(),
        });
    }
    let name = format!(
        "events:{}",
        dir.file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into())
    );
    let (train_dir, test_dir) = (subdir(dir, "train"), subdir(dir, "test"));
    let mut bins = Vec::new();
    if let Some(t) = &train_dir {
        files(t, "bin", &mut bins)?;
    }
    let (train, test) = if !bins.is_empty() {
        let test_dir = test_dir.ok_or_else(|| DataError::NotFound {
            path: dir.join("Test"),
            hint: "an N-MNIST folder needs Train/ and Test/".into(),
        })?;
        let tr = nmnist_split(train_dir.as_deref().unwrap_or(dir), input)?;
        let te = nmnist_split(&test_dir, input)?;
        let max =
            tr.1.iter()
                .chain(&te.1)
                .max()
                .map_or(0, |&m| usize::from(m) + 1);
        let n = n_classes.unwrap_or(max);
        (
            dataset(tr, input, n, train_dir.as_deref().unwrap_or(dir))?,
            dataset(te, input, n, &test_dir)?,
        )
    } else {
        let (mut tr, mut te) = (Vec::new(), Vec::new());
        if let (Some(a), Some(b)) = (&train_dir, &test_dir) {
            files(a, "mat", &mut tr)?;
            files(b, "mat", &mut te)?;
        } else {
            let mut all = Vec::new();
            files(dir, "mat", &mut all)?;
            for (i, f) in all.into_iter().enumerate() {
                if i % 5 == 4 { &mut te } else { &mut tr }.push(f);
            }
        }
        if tr.is_empty() || te.is_empty() {
            return Err(DataError::NotFound {
                path: dir.to_path_buf(),
                hint: "no N-MNIST .bin tree and too few .mat recordings for a train and a test \
                       split (at least 5, or Train/ and Test/ subfolders)"
                    .into(),
            });
        }
        let n = n_classes.unwrap_or(2);
        (
            dataset(ebssa_files(&tr, input)?, input, n, dir)?,
            dataset(ebssa_files(&te, input)?, input, n, dir)?,
        )
    };
    Split::new(train, test, name)
}
