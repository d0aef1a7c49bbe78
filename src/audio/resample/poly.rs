//! Direct polyphase filtering: the path for rates whose ratio to the output has a large
//! denominator (primes, rates coprime to 16 kHz), where an FFT block would have to span many
//! seconds.
//!
//! Each output sample is one dot product of the input around its instant with a row of the
//! kernel sampled at that instant's fractional offset. Rows are tabulated at `P` offsets per
//! input period: every offset the ratio can produce when there are few (`P = L`, exact), else a
//! fixed grid within [`TABLE_FLOATS`] with linear interpolation between neighbouring rows. The
//! grid is then at least `TABLE_FLOATS / (2·50 periods)` ≈ 2 600 points per Nyquist period,
//! where interpolating a band-limited kernel errs by under 1e-6 (below −120 dB).

use super::kernel::Kernel;

/// Most coefficients tabulated (1 MiB of f32), whatever the rates.
pub const TABLE_FLOATS: usize = 1 << 18;
/// Row length granularity: whole SIMD accumulators.
const LANES: usize = 16;

pub struct PolyPath {
    l: u64,
    m: u64,
    /// Input samples before an output instant that its row starts at.
    half: usize,
    row_len: usize,
    /// Rows per input period; `phases == l` means exact rows, no interpolation.
    phases: u64,
    table: Vec<f32>,
    /// Input from global index `start` on.
    pending: Vec<f32>,
    start: i64,
    dot: fn(&[f32], &[f32]) -> f32,
}

impl PolyPath {
    pub fn new(input_rate: u32, output_rate: u32, l: usize, m: usize) -> PolyPath {
        let kernel = Kernel::new(input_rate, output_rate);
        let half = kernel.half_taps(input_rate);
        let row_len = (2 * half + 2).next_multiple_of(LANES);
        let exact = l * row_len <= TABLE_FLOATS;
        let phases = if exact {
            l
        } else {
            (TABLE_FLOATS / row_len).saturating_sub(1).max(1)
        };
        let rows = if exact { phases } else { phases + 1 };
        let mut table = vec![0.0f32; rows * row_len];
        for (r, row) in table.chunks_exact_mut(row_len).enumerate() {
            let offset = r as f64 / phases as f64;
            for (i, c) in row.iter_mut().enumerate() {
                let t = (offset + half as f64 - i as f64) / input_rate as f64;
                *c = (kernel.value(t) / input_rate as f64) as f32;
            }
        }
        PolyPath {
            l: l as u64,
            m: m as u64,
            half,
            row_len,
            phases: phases as u64,
            table,
            pending: vec![0.0; half],
            start: -(half as i64),
            dot: dot_fn(),
        }
    }

    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        self.pending.extend_from_slice(input);
        self.run(out, produced, limit);
    }

    pub fn flush(&mut self, out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        while *produced < limit {
            self.pending.resize(self.pending.len() + self.row_len, 0.0);
            self.run(out, produced, limit);
        }
    }

    fn run(&mut self, out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        let end = self.start + self.pending.len() as i64;
        while *produced < limit {
            let n = *produced;
            let (whole, rem) = ((n * self.m / self.l) as i64, (n * self.m) % self.l);
            let first = whole - self.half as i64;
            if first + self.row_len as i64 > end {
                break;
            }
            let window = &self.pending[(first - self.start) as usize..][..self.row_len];
            let position = rem * self.phases;
            let (row, frac) = (position / self.l, position % self.l);
            let value = (self.dot)(window, self.row(row));
            out.push(if frac == 0 {
                value
            } else {
                let w = frac as f32 / self.l as f32;
                value + w * ((self.dot)(window, self.row(row + 1)) - value)
            });
            *produced += 1;
        }
        // Keep from the first input sample the next output needs.
        let next = (*produced * self.m / self.l) as i64 - self.half as i64;
        let drop = (next - self.start).clamp(0, self.pending.len() as i64);
        self.pending.drain(..drop as usize);
        self.start += drop;
    }

    fn row(&self, r: u64) -> &[f32] {
        &self.table[r as usize * self.row_len..][..self.row_len]
    }
}

fn dot_fn() -> fn(&[f32], &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return |a, b| {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { dot_avx2(a, b) }
        };
    }
    dot_portable
}

/// Σ a·b over equal lengths that are a multiple of [`LANES`]; lane-wise accumulators vectorise.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    acc.iter().sum()
}
