//! Training kernels: the sequential loop in one launch, and mini-batches.

use super::*;

/// Rates of every sample of `order`, replaying the learning-rate schedule (it does not depend on
/// the simulation); `lr` ends where the CPU's would.
pub(super) fn replay_rates(job: &TrainJob<'_>, n: usize, lr: &mut LrState) -> (Vec<u32>, Vec<u32>) {
    let (mut ap, mut am) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        lr.tick(&job.train.schedule());
        ap.push(lr.current.a_plus);
        am.push(lr.current.a_minus);
    }
    (ap, am)
}

pub(super) fn rule_code(r: StdpRule) -> i32 {
    match r {
        StdpRule::Multiplicative => 0,
        StdpRule::Additive => 1,
    }
}

impl CudaBackend {
    /// Mini-batch training (`job.train.batch > 1`), the CPU back end's `train_batches`: per
    /// batch, `train_batch` simulates its samples in parallel (one block each) from the weights
    /// on the device, then `stdp_batch` sums and applies their changes (one block per map). The
    /// weights stay on the device for the whole call.
    pub(super) fn train_batched(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let (weights, thresholds) = (&mut *st.weights, &*st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        let a = job.arch;
        let g = &a.conv;
        let m = g.out_c() as usize;
        let fan = g.n_weights() / m.max(1);
        if fan > 8 * STDP_THREADS as usize {
            return Err(cuda(format!(
                "mini-batch STDP handles kernels of at most {} synapses, this layer's have {fan}",
                8 * STDP_THREADS
            )));
        }
        let k = job.train.wta.k() as usize;
        let bsz = job.train.batch as usize;
        let mut lr_end = *lr;
        let (ap, am) = replay_rates(job, order.len(), &mut lr_end);
        let mode = SimMode::Train {
            wta: &job.train.wta,
            rule: rule_code(lr.current.rule),
            adapt: None,
        };
        let (p, pl) =
            layout::sim_layout(a, job.steps, mode, TRAIN_THREADS, self.smem()).map_err(cuda)?;
        let nw = g.n_weights();
        let mut w_d = self.up(&weights[..nw])?;
        let th_d = self.up(thresholds)?;
        let order_d = self.up(order)?;
        let ap_d = self.up(&ap)?;
        let am_d = self.up(&am)?;
        let n = order.len();
        let mut win_d = self.zeros::<i32>(n * k * layout::WIN_INTS)?;
        let mut stats_d = self.zeros::<u32>(3 * n)?;
        let sim = self.kernel("sim.cu", "train_batch", &p)?;
        let upd = self.kernel("sim.cu", "stdp_batch", &p)?;
        self.set_smem(&sim, pl.shared)?;
        let grid = self.grid(&sim, TRAIN_THREADS, pl.shared, bsz)?;
        let mut scratch = self.zeros::<u8>(pl.global * grid as usize)?;
        self.make_resident(job.inputs)?;
        let inputs = &self.resident.as_ref().expect("made resident").data;
        for b0 in (0..n).step_by(bsz) {
            let nb = bsz.min(n - b0);
            let ni = nb as i32;
            let ord = order_d.slice(b0..b0 + nb);
            let mut wv =
                win_d.slice_mut(b0 * k * layout::WIN_INTS..(b0 + nb) * k * layout::WIN_INTS);
            let mut sv = stats_d.slice_mut(3 * b0..3 * (b0 + nb));
            let mut lb = self.stream.launch_builder(&sim);
            lb.arg(&p)
                .arg(inputs)
                .arg(&ord)
                .arg(&ni)
                .arg(&mut w_d)
                .arg(&th_d)
                .arg(&mut wv)
                .arg(&mut sv)
                .arg(&mut scratch);
            let cfg = LaunchConfig {
                grid_dim: (grid.min(nb as u32), 1, 1),
                block_dim: (TRAIN_THREADS, 1, 1),
                shared_mem_bytes: pl.shared as u32,
            };
            // SAFETY: arguments match `train_batch`; `ord` indexes the resident cache (checked by
            // the caller), `wv` and `sv` hold the batch's winner records and counters, the
            // scratch grid × SCR bytes.
            unsafe { lb.launch(cfg) }.cx("train_batch launch")?;
            let wv = win_d.slice(b0 * k * layout::WIN_INTS..(b0 + nb) * k * layout::WIN_INTS);
            let sv = stats_d.slice(3 * b0..3 * (b0 + nb));
            let apv = ap_d.slice(b0..b0 + nb);
            let amv = am_d.slice(b0..b0 + nb);
            let mut lb = self.stream.launch_builder(&upd);
            lb.arg(&p)
                .arg(inputs)
                .arg(&ord)
                .arg(&ni)
                .arg(&wv)
                .arg(&sv)
                .arg(&apv)
                .arg(&amv)
                .arg(&mut w_d);
            let cfg = LaunchConfig {
                grid_dim: (m.min(65_535) as u32, 1, 1),
                block_dim: (STDP_THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: arguments match `stdp_batch`; every buffer holds the batch's nb samples.
            unsafe { lb.launch(cfg) }.cx("stdp_batch launch")?;
        }
        let w = self.down(&w_d, nw)?;
        let won = self.down(&win_d, n * k * layout::WIN_INTS)?;
        let st = self.down(&stats_d, 3 * n)?;
        weights[..nw].copy_from_slice(&w);
        for (j, s) in st.chunks_exact(3).enumerate() {
            stats.add(u64::from(s[0]), s[1], s[2]);
            for q in 0..(s[0] as usize).min(k) {
                let map = won[(j * k + q) * layout::WIN_INTS] as usize;
                if let Some(c) = wins.get_mut(map) {
                    *c += 1;
                }
            }
        }
        *lr = lr_end;
        Ok(())
    }
}

impl CudaBackend {
    /// The sequential training loop in one launch of `train_layer`; the layer's adaptive
    /// thresholds (`job.train.homeostasis`), if any, are updated after every sample and written
    /// back.
    pub(super) fn train_seq(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let homeo = job.train.homeostasis.as_ref();
        let adapt = homeo.is_some();
        let a = job.arch;
        let g = &a.conv;
        let m = g.out_c() as usize;
        validate_thresholds(st.thresholds, m)?;
        if st.weights.len() < g.n_weights() {
            return Err(
                hebb_core::Error::ShapeMismatch("weights shorter than the conv geometry").into(),
            );
        }
        if job.inputs.per_sample != g.input().len() {
            return Err(hebb_core::Error::ShapeMismatch(
                "spike cache samples differ from the layer input",
            )
            .into());
        }
        if st.wins.len() < m {
            return Err(hebb_core::Error::BufferTooSmall {
                what: "wins",
                need: m,
                got: st.wins.len(),
            }
            .into());
        }
        if order.iter().any(|&i| i as usize >= job.inputs.len()) {
            return Err(hebb_core::Error::InvalidParam("sample index out of range").into());
        }
        if order.is_empty() {
            return Ok(());
        }
        if job.train.batch > 1 && homeo.is_none() {
            return self.train_batched(job, order, st);
        }
        let (weights, thresholds) = (&mut *st.weights, &mut *st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        let mut lr_end = *lr;
        let (ap, am) = replay_rates(job, order.len(), &mut lr_end);
        let mode = SimMode::Train {
            wta: &job.train.wta,
            rule: rule_code(lr.current.rule),
            adapt: homeo,
        };
        let threads = std::env::var("HEBB_CUDA_TRAIN_THREADS")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|t| t % 32 == 0 && (32..=1024).contains(t))
            .unwrap_or(TRAIN_THREADS);
        let (p, pl) = layout::sim_layout(a, job.steps, mode, threads, self.smem()).map_err(cuda)?;
        let nw = g.n_weights();
        let mut w_d = self.up(&weights[..nw])?;
        let mut th_d = self.up(&thresholds[..m])?;
        let order_d = self.up(order)?;
        let ap_d = self.up(&ap)?;
        let am_d = self.up(&am)?;
        let mut wins_d = self.zeros::<u32>(m)?;
        let mut stats_d = self.zeros::<u32>(3 * order.len())?;
        let mut scratch = self.zeros::<u8>(pl.global)?;
        let profile = i32::from(std::env::var_os("HEBB_CUDA_PROFILE").is_some());
        let mut prof_d = self.zeros::<u64>(16)?;
        let f = self.kernel("sim.cu", "train_layer", &p)?;
        self.set_smem(&f, pl.shared)?;
        let n_order = i32::try_from(order.len()).map_err(|_| cuda("order too long"))?;
        self.make_resident(job.inputs)?;
        let inputs = &self.resident.as_ref().expect("made resident").data;
        let mut lb = self.stream.launch_builder(&f);
        lb.arg(&p)
            .arg(inputs)
            .arg(&order_d)
            .arg(&n_order)
            .arg(&ap_d)
            .arg(&am_d)
            .arg(&mut w_d)
            .arg(&mut th_d)
            .arg(&mut wins_d)
            .arg(&mut stats_d)
            .arg(&mut scratch)
            .arg(&mut prof_d)
            .arg(&profile);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: pl.shared as u32,
        };
        // SAFETY: arguments match `train_layer`; every index in `order` was checked against
        // the resident cache, the scratch holds SCR bytes for the one block.
        unsafe { lb.launch(cfg) }.cx("train launch")?;
        let w = self.down(&w_d, nw)?;
        let dw = self.down(&wins_d, m)?;
        let st = self.down(&stats_d, 3 * order.len())?;
        if profile != 0 {
            self.print_profile(&self.down(&prof_d, 16)?, pl.shared, pl.global);
        }
        weights[..nw].copy_from_slice(&w);
        if adapt {
            thresholds[..m].copy_from_slice(&self.down(&th_d, m)?);
        }
        for (acc, d) in wins.iter_mut().zip(&dw) {
            *acc += d;
        }
        for s in st.chunks_exact(3) {
            stats.add(u64::from(s[0]), s[1], s[2]);
        }
        *lr = lr_end;
        Ok(())
    }
}
