//! The CPU back end: the core's functions, parallel across samples where the semantics allow
//! (encoding, frozen-layer outputs, feature extraction); training is sequential because every
//! sample learns from the weights the previous one left.

use super::{Backend, FeatureSet, LayerState, Result, SpikeCache, TrainJob};
use crate::net::Net;
use hebb_core::encode::{EncodeScratch, encode};
use hebb_core::layer::{SimOutcome, SimScratch, simulate};
use hebb_core::model::LayerArch;
use hebb_core::network::InferScratch;
use hebb_core::plasticity::{apply_accumulated, stdp_accumulate_rows};
use hebb_core::pool::{pointwise_inhibition, pool_times};
use hebb_core::spikes::words;
use hebb_core::training::{SampleRule, SampleState, train_sample};
use hebb_core::wta::Winner;
use rayon::prelude::*;

/// Samples per parallel work item (amortises scratch allocation).
const CHUNK: usize = 64;

/// CPU back end.
#[derive(Debug, Default)]
pub struct CpuBackend {
    sim: Option<SimBuffers>,
    /// One per worker thread, for mini-batches.
    pool: Vec<SimBuffers>,
}

impl CpuBackend {
    /// A new CPU back end using rayon's global pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequential per-sample loop (with adaptive thresholds when the layer has them).
    fn train_loop(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let a = job.arch;
        if order.iter().any(|&i| i as usize >= job.inputs.len()) {
            return Err(hebb_core::Error::InvalidParam("sample index out of range").into());
        }
        let homeo = job.train.homeostasis;
        if homeo.is_none() && job.train.batch > 1 {
            return self.train_batches(job, order, st);
        }
        let (weights, thresholds) = (&mut *st.weights, &mut *st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        if !self.sim.as_ref().is_some_and(|b| b.fits(a, job.steps)) {
            self.sim = Some(SimBuffers::new(a, job.steps));
        }
        let buf = self.sim.as_mut().expect("just set");
        let out = a.conv.output();
        let mut fired = vec![0u32; words(out.c as usize)];
        let mut winners = vec![Winner::default(); job.train.wta.k() as usize];
        let schedule = job.train.schedule();
        let rule = SampleRule {
            wta: &job.train.wta,
            schedule: &schedule,
            homeostasis: homeo.as_ref(),
        };
        for &i in order {
            let input = job.inputs.sample(i as usize);
            let r = train_sample(
                a,
                job.steps,
                &rule,
                input,
                &mut SampleState {
                    weights: &mut *weights,
                    thresholds: &mut *thresholds,
                    lr: &mut *lr,
                    wins: &mut *wins,
                    scratch: &mut buf.scratch(),
                    winners: &mut winners,
                    fired: &mut fired,
                },
            )?;
            stats.add(r.winners as u64, r.spikes, r.events);
        }
        Ok(())
    }

    /// Mini-batch training: the samples of each batch (`job.train.batch` consecutive entries of
    /// `order`) are simulated in parallel with the weights the previous batch left, then their
    /// STDP changes are summed and applied at once. Results do not depend on the thread count.
    fn train_batches(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let (weights, thresholds) = (&mut *st.weights, &mut *st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        let a = job.arch;
        let nw = a.conv.n_weights();
        if weights.len() < nw {
            return Err(hebb_core::Error::BufferTooSmall {
                what: "weights",
                need: nw,
                got: weights.len(),
            }
            .into());
        }
        let k = job.train.wta.k() as usize;
        let bsz = job.train.batch as usize;
        let threads = rayon::current_num_threads().clamp(1, bsz);
        self.pool.retain(|b| b.fits(a, job.steps));
        while self.pool.len() < threads {
            self.pool.push(SimBuffers::new(a, job.steps));
        }
        let mut acc = vec![0i32; nw];
        let mut winners = vec![Winner::default(); bsz * k];
        let mut outcomes = vec![SimOutcome::default(); bsz];
        let mut rates = Vec::with_capacity(bsz);
        for batch in order.chunks(bsz) {
            let per = batch.len().div_ceil(threads);
            let w: &[u16] = weights;
            self.pool[..threads]
                .par_iter_mut()
                .zip(batch.par_chunks(per))
                .zip(winners.par_chunks_mut(per * k))
                .zip(outcomes.par_chunks_mut(per))
                .try_for_each(|(((buf, idx), win), out)| {
                    for ((&i, wj), oj) in idx.iter().zip(win.chunks_mut(k)).zip(out.iter_mut()) {
                        *oj = simulate(
                            &a.conv,
                            w,
                            thresholds,
                            &a.neuron,
                            job.steps,
                            job.inputs.sample(i as usize),
                            Some(&job.train.wta),
                            true,
                            &mut buf.scratch(),
                            wj,
                        )?;
                    }
                    Ok::<_, hebb_core::Error>(())
                })?;
            rates.clear();
            for j in 0..batch.len() {
                lr.tick(&job.train.schedule());
                rates.push(lr.current);
                let r = &outcomes[j];
                stats.add(r.winners as u64, r.spikes, r.events);
                for x in &winners[j * k..j * k + r.winners] {
                    wins[x.map as usize] += 1;
                }
            }
            // Summing is parallel over rows of the weights (disjoint), sample after sample
            // within a row, so the sums do not depend on the thread count.
            let m = (a.conv.out_c() as usize).max(1);
            let rows = (nw / m).div_ceil(threads * 4).max(1);
            let w: &[u16] = weights;
            acc.par_chunks_mut(rows * m)
                .enumerate()
                .try_for_each(|(ci, part)| {
                    for (j, &i) in batch.iter().enumerate() {
                        stdp_accumulate_rows(
                            &a.conv,
                            w,
                            job.inputs.sample(i as usize),
                            &winners[j * k..j * k + outcomes[j].winners],
                            &rates[j],
                            ci * rows,
                            part,
                        )?;
                    }
                    Ok::<_, hebb_core::Error>(())
                })?;
            apply_accumulated(&mut weights[..nw], &mut acc)?;
        }
        Ok(())
    }
}

/// Owned buffers behind a [`SimScratch`].
#[derive(Debug, Default)]
pub struct SimBuffers {
    v: Vec<i32>,
    t_first: Vec<u8>,
    pos_first: Vec<u8>,
    touched: Vec<u32>,
    excl_pos: Vec<u32>,
    excl_map: Vec<u32>,
    cand: Vec<u64>,
    order: Vec<u32>,
    starts: Vec<u32>,
}

impl SimBuffers {
    /// Buffers for a layer.
    pub fn new(arch: &LayerArch, steps: u8) -> Self {
        let o = arch.conv.output();
        let (n, p, m) = (o.len(), o.plane(), o.c as usize);
        Self {
            v: vec![0; n],
            t_first: vec![0; n],
            pos_first: vec![0; p],
            touched: vec![0; words(p)],
            excl_pos: vec![0; words(p)],
            excl_map: vec![0; words(m)],
            cand: vec![0; n],
            order: vec![0; arch.conv.input().len()],
            starts: vec![0; steps as usize + 1],
        }
    }
    /// First-spike times of the layer's last simulation, before pooling (`[map][y][x]`).
    pub fn t_first(&self) -> &[u8] {
        &self.t_first
    }
    /// Borrowed view.
    pub fn scratch(&mut self) -> SimScratch<'_> {
        SimScratch {
            v: &mut self.v,
            t_first: &mut self.t_first,
            pos_first: &mut self.pos_first,
            touched: &mut self.touched,
            excl_pos: &mut self.excl_pos,
            excl_map: &mut self.excl_map,
            cand: &mut self.cand,
            order: &mut self.order,
            starts: &mut self.starts,
        }
    }
    fn fits(&self, arch: &LayerArch, steps: u8) -> bool {
        self.v.len() == arch.conv.output().len()
            && self.order.len() == arch.conv.input().len()
            && self.starts.len() == steps as usize + 1
            && self.pos_first.len() == arch.conv.output().plane()
            && self.excl_map.len() == words(arch.conv.out_c() as usize)
    }
}

/// Owned buffers behind an [`InferScratch`].
#[derive(Debug)]
pub struct InferBuffers {
    resp: Vec<i32>,
    rows: Vec<i64>,
    keys: Vec<u64>,
    a: Vec<u8>,
    b: Vec<u8>,
    v_row: Vec<i32>,
}

impl InferBuffers {
    /// Buffers for a network.
    pub fn new(net: &Net) -> Self {
        let e = &net.encoder;
        let mut m = e.n_out();
        for a in &net.arch {
            m = m
                .max(a.conv.input().len())
                .max(a.out_shape().len())
                .max(a.conv.output().len());
        }
        Self {
            resp: vec![0; e.n_out()],
            rows: vec![0; e.h() as usize * e.w() as usize],
            keys: vec![0; e.n_out()],
            a: vec![0; m],
            b: vec![0; m],
            v_row: vec![0; hebb_core::network::max_row(&net.arch)],
        }
    }
    /// Borrowed view.
    pub fn scratch(&mut self) -> InferScratch<'_> {
        InferScratch {
            enc: EncodeScratch {
                resp: &mut self.resp,
                rows: &mut self.rows,
                keys: &mut self.keys,
            },
            a: &mut self.a,
            b: &mut self.b,
            v_row: &mut self.v_row,
        }
    }
    /// Encoder scratch and output buffer.
    pub fn encode(&mut self, net: &Net, image: &[u8]) -> hebb_core::Result<&[u8]> {
        let mut s = EncodeScratch {
            resp: &mut self.resp,
            rows: &mut self.rows,
            keys: &mut self.keys,
        };
        encode(&net.encoder, &net.filters, image, &mut s, &mut self.a)?;
        Ok(&self.a[..net.encoder.n_out()])
    }
}

/// Runs one frozen layer over time (no competition) and pools: the layer's time-resolved output.
pub fn layer_output(
    arch: &LayerArch,
    steps: u8,
    weights: &[u16],
    thresholds: &[i32],
    input: &[u8],
    buf: &mut SimBuffers,
    out: &mut [u8],
) -> hebb_core::Result<()> {
    let mut s = buf.scratch();
    simulate(
        &arch.conv,
        weights,
        thresholds,
        &arch.neuron,
        steps,
        input,
        None,
        false,
        &mut s,
        &mut [],
    )?;
    match &arch.pool {
        Some(p) => pool_times(p, &buf.t_first, out, None),
        None => {
            out[..buf.t_first.len()].copy_from_slice(&buf.t_first);
            Ok(())
        }
    }
}

/// Features of one image through the time-stepped path (any neuron model).
pub fn features_stepped(
    net: &Net,
    image: &[u8],
    inf: &mut InferBuffers,
    sims: &mut [SimBuffers],
    out: &mut [u32],
) -> hebb_core::Result<()> {
    let steps = net.encoder.steps();
    let mut cur = inf.encode(net, image)?.to_vec();
    for (l, a) in net.arch.iter().enumerate() {
        let mut next = vec![0u8; a.out_shape().len()];
        layer_output(
            a,
            steps,
            &net.weights[l],
            &net.thresholds[l],
            &cur,
            &mut sims[l],
            &mut next,
        )?;
        cur = next;
    }
    out.fill(0);
    for (i, &t) in cur.iter().enumerate() {
        if t != hebb_core::spikes::NEVER {
            out[i / 32] |= 1 << (i % 32);
        }
    }
    Ok(())
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn encode(&mut self, net: &Net, images: &[u8]) -> Result<SpikeCache> {
        let plane = net.encoder.n_in();
        let per = net.encoder.n_out();
        let n = images.len() / plane;
        let mut data = vec![0u8; n * per];
        data.par_chunks_mut(per * CHUNK)
            .enumerate()
            .try_for_each(|(ci, out)| {
                let mut b = InferBuffers::new(net);
                for (j, o) in out.chunks_mut(per).enumerate() {
                    let i = ci * CHUNK + j;
                    o.copy_from_slice(b.encode(net, &images[i * plane..(i + 1) * plane])?);
                }
                Ok::<_, hebb_core::Error>(())
            })?;
        Ok(SpikeCache {
            per_sample: per,
            data,
        })
    }

    fn train(&mut self, job: &TrainJob<'_>, order: &[u32], st: &mut LayerState<'_>) -> Result<()> {
        self.train_loop(job, order, st)
    }

    fn layer_times(
        &mut self,
        arch: &LayerArch,
        steps: u8,
        weights: &[u16],
        thresholds: &[i32],
        inputs: &SpikeCache,
        inhibit: bool,
    ) -> Result<SpikeCache> {
        let o = arch.out_shape();
        let per = o.len();
        let n = inputs.len();
        let mut data = vec![0u8; n * per];
        data.par_chunks_mut(per * CHUNK)
            .enumerate()
            .try_for_each(|(ci, out)| {
                let mut b = SimBuffers::new(arch, steps);
                for (j, dst) in out.chunks_mut(per).enumerate() {
                    let i = ci * CHUNK + j;
                    layer_output(
                        arch,
                        steps,
                        weights,
                        thresholds,
                        inputs.sample(i),
                        &mut b,
                        dst,
                    )?;
                    if inhibit {
                        pointwise_inhibition(dst, o.c as usize, o.plane())?;
                    }
                }
                Ok::<_, hebb_core::Error>(())
            })?;
        Ok(SpikeCache {
            per_sample: per,
            data,
        })
    }

    fn features(&mut self, net: &Net, images: &[u8]) -> Result<FeatureSet> {
        let plane = net.encoder.n_in();
        let n = images.len() / plane;
        let nf = net.n_features();
        let wpf = words(nf);
        let mut bits = vec![0u32; n * wpf];
        let time_free = net.arch.iter().all(|a| a.neuron.time_free());
        let thresholds: Vec<&[i32]> = net.thresholds.iter().map(Vec::as_slice).collect();
        let weights: Vec<&[u16]> = net.weights.iter().map(Vec::as_slice).collect();
        net.with_model(|model| {
            bits.par_chunks_mut(wpf * CHUNK)
                .enumerate()
                .try_for_each(|(ci, out)| {
                    let mut b = InferBuffers::new(net);
                    let mut sims: Vec<SimBuffers> = if time_free {
                        Vec::new()
                    } else {
                        net.arch
                            .iter()
                            .map(|a| SimBuffers::new(a, net.encoder.steps()))
                            .collect()
                    };
                    for (j, dst) in out.chunks_mut(wpf).enumerate() {
                        let i = ci * CHUNK + j;
                        let img = &images[i * plane..(i + 1) * plane];
                        if time_free {
                            let mut s = b.scratch();
                            hebb_core::network::features(
                                model,
                                &net.filters,
                                &weights,
                                &thresholds,
                                img,
                                &mut s,
                                dst,
                            )?;
                        } else {
                            features_stepped(net, img, &mut b, &mut sims, dst)?;
                        }
                    }
                    Ok::<_, hebb_core::Error>(())
                })
        })??;
        Ok(FeatureSet {
            n_features: nf,
            words: wpf,
            bits,
        })
    }
}
