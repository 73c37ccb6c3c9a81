//! Kernel programs: compiled with NVRTC per layer configuration on first use and cached, and
//! the fingerprint that keys cached device data.

use super::*;

/// Cheap fingerprint of a spike cache: its length and a strided sample of its words, plus
/// the first and last 4 KiB in full.
pub(super) fn fingerprint(d: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ d.len() as u64;
    let mut mix = |x: u64| {
        h = (h ^ x).wrapping_mul(0x0100_0000_01b3).rotate_left(23);
    };
    let edge = d.len().min(4096);
    d[..edge].iter().for_each(|&b| mix(u64::from(b)));
    d[d.len() - edge..].iter().for_each(|&b| mix(u64::from(b)));
    let words = d.len() / 8;
    let stride = (words / 65_536).max(1);
    for i in (0..words).step_by(stride) {
        let b: [u8; 8] = d[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]);
        mix(u64::from_le_bytes(b));
    }
    h
}

impl CudaBackend {
    /// Kernel `name` of `file` specialised for `p` (compiled and loaded on first use).
    pub(super) fn kernel(
        &mut self,
        file: &'static str,
        name: &'static str,
        p: &Params,
    ) -> Result<CudaFunction> {
        let key = (file, name, p.0);
        if let Some(f) = self.variants.get(&key) {
            return Ok(f.clone());
        }
        let ptx = source::compile(file, self.dev.arch, Some(p)).map_err(cuda)?;
        let m = self
            .ctx
            .load_module(ptx)
            .cx(&format!("loading the {file} kernels"))?;
        let f = m.load_function(name).cx(&format!("kernel {name}"))?;
        self.variants.insert(key, f.clone());
        Ok(f)
    }
}
