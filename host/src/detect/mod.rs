//! Detection on event recordings with a trained SpikeSEG-style network: every spike of the last
//! layer is unravelled back to the input raster ([`hebb_core::decode::hulk`], tied weights,
//! per-step pool indices), each such instance gets its sequence-wide activity histogram
//! ([`ash`]), instances are grouped into objects by SMASH ([`smash`]) and objects are linked
//! into tracks across consecutive windows ([`track`]); [`metrics`] scores the result against
//! EBSSA `Obj` labels.
//!
//! One window is run through the time-stepped CPU path (every layer's first-spike times,
//! before and after pooling), so the decoder can route every pooled spike by the step it
//! happened at.

pub mod ash;
pub mod metrics;
pub mod smash;
pub mod track;

use crate::backend::cpu::{InferBuffers, SimBuffers, layer_output};
use crate::net::Net;
use ash::Ash;
use hebb_core::decode::{DecodeParams, HulkScratch, Spike, hulk, hulk_scratch_len};
use hebb_core::model::Model;
use hebb_core::spikes::NEVER;
use smash::BBox;

/// Every level's first-spike times for one window: `out[0]` the encoder's, `out[l + 1]` layer
/// `l`'s after pooling; `pre[l]` layer `l`'s before pooling.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// Per level, after pooling.
    pub out: Vec<Vec<u8>>,
    /// Per layer, before pooling.
    pub pre: Vec<Vec<u8>>,
}

/// Runs one voxel grid through the network (time-stepped, no competition).
pub fn run_window(
    net: &Net,
    grid: &[u8],
    inf: &mut InferBuffers,
    sims: &mut [SimBuffers],
) -> hebb_core::Result<Times> {
    let steps = net.encoder.steps();
    let mut t = Times::default();
    t.out.push(inf.encode(net, grid)?.to_vec());
    for (l, a) in net.arch.iter().enumerate() {
        let mut next = vec![NEVER; a.out_shape().len()];
        let input = t.out.last().map(Vec::as_slice).unwrap_or(&[]);
        layer_output(
            a,
            steps,
            &net.weights[l],
            &net.thresholds[l],
            input,
            &mut sims[l],
            &mut next,
        )?;
        t.pre
            .push(sims[l].t_first()[..a.conv.output().len()].to_vec());
        t.out.push(next);
    }
    Ok(t)
}

/// One unravelled spike of the last layer.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The spike.
    pub spike: Spike,
    /// Raster pixels of its mask (`y · w + x`).
    pub pixels: Vec<u32>,
    /// Box of the mask.
    pub bbox: BBox,
    /// Sequence-wide activity histogram.
    pub ash: Ash,
}

/// An object: instances grouped by SMASH.
#[derive(Debug, Clone)]
pub struct Object {
    /// Instances in it.
    pub instances: usize,
    /// Union of their masks (raster pixels, sorted).
    pub pixels: Vec<u32>,
    /// Union of their boxes.
    pub bbox: BBox,
    /// OR of their histograms.
    pub ash: Ash,
    /// Mean column and row of the mask.
    pub centroid: (f64, f64),
}

/// Detection parameters.
#[derive(Debug, Clone, Copy)]
pub struct DetectParams {
    /// Decoder rule.
    pub decode: DecodeParams,
    /// SMASH score two instances must exceed to be grouped.
    pub threshold: f64,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            decode: DecodeParams::default(),
            threshold: 0.1,
        }
    }
}

/// Unravels every spike of the last layer of one window's `times` and groups the instances.
pub fn detect(
    m: &Model<'_>,
    t: &Times,
    p: &DetectParams,
) -> hebb_core::Result<(Vec<Instance>, Vec<Object>)> {
    let (n, ne) = hulk_scratch_len(m);
    let (mut acc, mut pre, mut enc) = (vec![0u32; n], vec![0u8; n], vec![0i64; ne]);
    let (w, h) = (usize::from(m.encoder.w()), usize::from(m.encoder.h()));
    let mut mask = vec![0u8; w * h];
    let mut acts: Vec<Vec<u8>> = t.out.iter().map(|v| vec![0u8; v.len()]).collect();
    let mut maps = vec![m.encoder.maps()];
    maps.extend(m.arch.iter().map(|a| usize::from(a.out_shape().c)));
    let steps = usize::from(m.encoder.steps());
    let pre_t: Vec<&[u8]> = t.pre.iter().map(Vec::as_slice).collect();
    let out_t: Vec<&[u8]> = t.out.iter().map(Vec::as_slice).collect();
    let last = m
        .arch
        .last()
        .ok_or(hebb_core::Error::InvalidParam("model has no layers"))?
        .out_shape();
    let top = t.out.last().map(Vec::as_slice).unwrap_or(&[]);
    let plane = last.plane();
    let mut inst = Vec::new();
    for (i, &s) in top.iter().enumerate().filter(|&(_, &s)| s != NEVER) {
        let spike = Spike {
            map: (i / plane) as u16,
            y: ((i % plane) / usize::from(last.w)) as u16,
            x: ((i % plane) % usize::from(last.w)) as u16,
            step: s,
        };
        let mut s = HulkScratch {
            acc: &mut acc,
            pre: &mut pre,
            enc: &mut enc,
        };
        let mut views: Vec<&mut [u8]> = acts.iter_mut().map(Vec::as_mut_slice).collect();
        if hulk(m, spike, &pre_t, &p.decode, &mut s, &mut views, &mut mask)? == 0 {
            continue;
        }
        let Some(bbox) = BBox::of_mask(&mask, w) else {
            continue;
        };
        let act_v: Vec<&[u8]> = acts.iter().map(Vec::as_slice).collect();
        inst.push(Instance {
            spike,
            pixels: (0..mask.len() as u32)
                .filter(|&j| mask[j as usize] != 0)
                .collect(),
            bbox,
            ash: ash::ash(&out_t, &act_v, &maps, steps),
        });
    }
    let pairs: Vec<(&Ash, BBox)> = inst.iter().map(|i| (&i.ash, i.bbox)).collect();
    let groups = smash::group(&pairs, p.threshold);
    let n_obj = groups.iter().copied().max().map_or(0, |g| g + 1);
    let mut objects = Vec::with_capacity(n_obj);
    for g in 0..n_obj {
        let members: Vec<&Instance> = inst
            .iter()
            .zip(&groups)
            .filter(|&(_, &k)| k == g)
            .map(|(i, _)| i)
            .collect();
        let mut a = Ash::new(members[0].ash.features, members[0].ash.steps);
        let mut bbox = members[0].bbox;
        let mut px: Vec<u32> = Vec::new();
        for i in &members {
            a.or(&i.ash);
            bbox = bbox.union(&i.bbox);
            px.extend(&i.pixels);
        }
        px.sort_unstable();
        px.dedup();
        let cx = px.iter().map(|&j| (j as usize % w) as f64).sum::<f64>() / px.len() as f64;
        let cy = px.iter().map(|&j| (j as usize / w) as f64).sum::<f64>() / px.len() as f64;
        objects.push(Object {
            instances: members.len(),
            pixels: px,
            bbox,
            ash: a,
            centroid: (cx, cy),
        });
    }
    Ok((inst, objects))
}

/// Raster coordinate of sensor coordinate `v` (sensor side `s`, raster side `r`), as the voxel
/// grid scales events: `round(v · (r − 1) / (s − 1))`, clipped to the raster.
pub fn to_raster(v: f64, s: u16, r: u16) -> u16 {
    if s <= 1 || r <= 1 {
        return 0;
    }
    let x = (v * f64::from(r - 1) / f64::from(s - 1)).round();
    x.clamp(0.0, f64::from(r - 1)) as u16
}
