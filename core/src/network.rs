//! Inference through a whole model: encoder → learned IF layers (time-free) → pooled binary
//! features → readout. The host, the firmware and the tests all call these functions.

use crate::encode::{EncodeScratch, encode};
use crate::error::{Error, Result, head, head_mut};
use crate::layer::forward_final;
use crate::model::{LayerArch, Model, i32s};
use crate::spikes::{spiking_mask, words};
use crate::weights::WeightRow;

/// Largest map any layer of `arch` reads or writes (elements).
pub fn max_map(model: &Model<'_>) -> usize {
    let mut m = model.encoder.n_out();
    for a in model.arch.iter() {
        m = m.max(a.conv.input().len()).max(a.out_shape().len());
    }
    m
}

/// Largest potential row any layer needs (`out_w × maps`).
pub fn max_row(arch: &[LayerArch]) -> usize {
    arch.iter()
        .map(|a| a.conv.output().w as usize * a.conv.out_c() as usize)
        .max()
        .unwrap_or(0)
}

/// Working memory of [`features`], owned by the caller.
#[derive(Debug)]
pub struct InferScratch<'a> {
    /// Encoder scratch.
    pub enc: EncodeScratch<'a>,
    /// Ping-pong spike-time maps, [`max_map`] each.
    pub a: &'a mut [u8],
    /// Second map.
    pub b: &'a mut [u8],
    /// Potential row, [`max_row`].
    pub v_row: &'a mut [i32],
}

/// Computes the binary feature bit set of one image through layers whose weights are given by
/// `weights[l]` and thresholds by `thresholds[l]`. Every layer must use IF neurons.
/// Returns the number of active features.
pub fn features<W: WeightRow>(
    model: &Model<'_>,
    filters: &[i32],
    weights: &[W],
    thresholds: &[&[i32]],
    image: &[u8],
    s: &mut InferScratch<'_>,
    out: &mut [u32],
) -> Result<usize> {
    if weights.len() != model.arch.len() || thresholds.len() != model.arch.len() {
        return Err(Error::ShapeMismatch(
            "one weight matrix and threshold set per layer",
        ));
    }
    let nf = model.feature_shape().len();
    let out = head_mut("features", out, words(nf))?;
    encode(&model.encoder, filters, image, &mut s.enc, s.a)?;
    let (mut src, mut dst) = (&mut *s.a, &mut *s.b);
    for ((a, w), th) in model.arch.iter().zip(weights).zip(thresholds) {
        if !a.neuron.time_free() {
            return Err(Error::InvalidParam("time-free inference needs IF neurons"));
        }
        forward_final(&a.conv, w, th, a.pool.as_ref(), src, s.v_row, dst)?;
        core::mem::swap(&mut src, &mut dst);
    }
    // Branch-free packing: 32 spike times into one word.
    let src = head("feature map", src, nf)?;
    let mut n = 0;
    for (o, cells) in out.iter_mut().zip(src.chunks(32)) {
        let word = spiking_mask(cells) as u32;
        *o = word;
        n += word.count_ones() as usize;
    }
    Ok(n)
}

/// Decodes the encoder filters of a model into `out` (`n_filters × k × k` values).
pub fn filters(model: &Model<'_>, out: &mut [i32]) -> Result<usize> {
    crate::model::read_i32s(model.filters, out)
}

/// Decodes the thresholds of layer `l` into `out`.
pub fn thresholds(model: &Model<'_>, l: usize, out: &mut [i32]) -> Result<usize> {
    let blob = model
        .layers
        .get(l)
        .ok_or(Error::InvalidParam("no such layer"))?;
    let n = blob.thresholds.len() / 4;
    let out = head_mut("thresholds", out, n)?;
    for (o, v) in out.iter_mut().zip(i32s(blob.thresholds)) {
        *o = v;
    }
    Ok(n)
}
