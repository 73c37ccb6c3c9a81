//! Inference kernels: encoding and the time-free feature pass.

use super::*;

impl CudaBackend {
    pub(super) fn encode_device(
        &mut self,
        net: &Net,
        images: &CudaSlice<u8>,
        n: usize,
        out: &mut CudaSlice<u8>,
    ) -> Result<()> {
        let e = &net.encoder;
        let (p, pl) = layout::encode_layout(e, self.smem()).map_err(cuda)?;
        if net.filters.len() < e.n_kernel() {
            return Err(hebb_core::Error::BufferTooSmall {
                what: "kernels",
                need: e.n_kernel(),
                got: net.filters.len(),
            }
            .into());
        }
        let ker = self.up(&net.filters[..e.n_kernel()])?;
        let f = &self.kernel("encode.cu", "encode_images", &p)?;
        self.set_smem(f, pl.shared)?;
        let grid = self.grid(f, ENCODE_THREADS, pl.shared, n)?;
        let mut scratch = self.zeros::<u8>(pl.global * grid as usize)?;
        let ni = n as i32;
        let mut lb = self.stream.launch_builder(f);
        lb.arg(&p)
            .arg(images)
            .arg(&ni)
            .arg(&ker)
            .arg(out)
            .arg(&mut scratch);
        let cfg = LaunchConfig {
            grid_dim: (grid, 1, 1),
            block_dim: (ENCODE_THREADS, 1, 1),
            shared_mem_bytes: pl.shared as u32,
        };
        // SAFETY: arguments match `encode_images`; `images` holds n images, `out` n encodings,
        // the scratch grid × SCR bytes.
        unsafe { lb.launch(cfg) }.cx("encode launch")?;
        Ok(())
    }

    pub(super) fn features_device(
        &mut self,
        net: &Net,
        images: &[u8],
    ) -> Result<Option<FeatureSet>> {
        let e = &net.encoder;
        if matches!(e.mode(), hebb_core::encode::EncodeMode::Events(_)) {
            // No event encoder on the device: the CPU computes these features.
            return Ok(None);
        }
        let plane = e.h() as usize * e.w() as usize;
        let n = images.len() / plane;
        let nf = net.n_features();
        let wpf = words(nf);
        let mut layers = Vec::new();
        for (l, a) in net.arch.iter().enumerate() {
            validate_thresholds(&net.thresholds[l], a.conv.out_c() as usize)?;
            if net.weights[l].len() < a.conv.n_weights() {
                return Err(hebb_core::Error::ShapeMismatch(
                    "weights shorter than the conv geometry",
                )
                .into());
            }
            match layout::forward_layout(a, self.smem()).map_err(cuda)? {
                Some(x) => layers.push(x),
                None => return Ok(None),
            }
        }
        let mut bits = Vec::with_capacity(n * wpf);
        let w_d = net
            .weights
            .iter()
            .zip(&net.arch)
            .map(|(w, a)| self.up(&w[..a.conv.n_weights()]))
            .collect::<Result<Vec<_>>>()?;
        let th_d = net
            .thresholds
            .iter()
            .map(|t| self.up(t))
            .collect::<Result<Vec<_>>>()?;
        let max_len = net
            .arch
            .iter()
            .map(|a| a.conv.input().len().max(a.out_shape().len()))
            .max()
            .unwrap_or(0)
            .max(e.n_out());
        let chunk = BATCH.min(n.max(1));
        let mut ping = self.zeros::<u8>(chunk * max_len)?;
        let mut pong = self.zeros::<u8>(chunk * max_len)?;
        let mut bits_d = self.zeros::<u32>(chunk * wpf)?;
        for c0 in (0..n).step_by(chunk) {
            let cn = chunk.min(n - c0);
            let img = self.up(&images[c0 * plane..(c0 + cn) * plane])?;
            self.encode_device(net, &img, cn, &mut ping)?;
            for (l, (p, pl)) in layers.iter().enumerate() {
                let f = &self.kernel("infer.cu", "forward_final", p)?;
                self.set_smem(f, pl.shared)?;
                let grid = self.grid(f, FORWARD_THREADS, pl.shared, cn)?;
                let ni = cn as i32;
                let mut lb = self.stream.launch_builder(f);
                lb.arg(p)
                    .arg(&ping)
                    .arg(&ni)
                    .arg(&w_d[l])
                    .arg(&th_d[l])
                    .arg(&mut pong);
                let cfg = LaunchConfig {
                    grid_dim: (grid, 1, 1),
                    block_dim: (FORWARD_THREADS, 1, 1),
                    shared_mem_bytes: pl.shared as u32,
                };
                // SAFETY: arguments match `forward_final`; ping holds cn inputs, pong cn outputs.
                unsafe { lb.launch(cfg) }.cx("forward launch")?;
                std::mem::swap(&mut ping, &mut pong);
            }
            let (ni, nfi, wi) = (cn as i32, nf as i32, wpf as i32);
            let mut lb = self.stream.launch_builder(&self.pack);
            lb.arg(&ping).arg(&ni).arg(&nfi).arg(&wi).arg(&mut bits_d);
            let cfg = LaunchConfig {
                grid_dim: ((cn * wpf).div_ceil(256).clamp(1, 65_535) as u32, 1, 1),
                block_dim: (256, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: arguments match `pack_bits`.
            unsafe { lb.launch(cfg) }.cx("pack launch")?;
            bits.extend_from_slice(&self.down(&bits_d, cn * wpf)?);
        }
        Ok(Some(FeatureSet {
            n_features: nf,
            words: wpf,
            bits,
        }))
    }
}
