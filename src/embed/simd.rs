//! The vector instruction sets the convolution kernels are written for, chosen at run time.
//!
//! Nothing here is compiled with a `-C target-feature`: each kernel is a generic function over
//! [`Simd`] whose entry point carries `#[target_feature]`, and [`Isa::detect`] decides which
//! entry point may be called on this CPU.

/// The instruction set a [`super::conv`] kernel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AMX-BF16 tiles (`super::amx`): the front end's products in bf16, 8,192 multiply-adds an
    /// instruction, where the CPU has them and Linux grants the process their state.
    Amx,
    /// AVX-512F with the BF16 dot product: the front end's products in bfloat16 pairs, summed
    /// in f32 (twice the multiply-adds of an f32 FMA per instruction; see `super::bf16`).
    Avx512Bf16,
    /// 16-lane AVX-512F (32 vector registers).
    Avx512,
    /// 8-lane AVX2 with FMA (16 vector registers).
    Avx2,
    /// Neither: the network falls back to its GEMM path (the `gemm` crate).
    Fallback,
}

impl Isa {
    /// The instruction set the embedding runs on: [`Isa::preferred`], unless
    /// `SONOVEC_EMBED_ISA` names another this CPU has (`amx`; `avx512bf16`: bf16 pairs where
    /// they are not the default; `avx512`: f32 where tiles or pairs are; `avx2`; `fallback`),
    /// for comparing the paths on one machine or for f32 embeddings on every machine. A set
    /// the CPU lacks is ignored.
    pub fn detect() -> Isa {
        let wanted = match std::env::var("SONOVEC_EMBED_ISA").as_deref() {
            Ok("amx") => Isa::Amx,
            Ok("avx512bf16") => Isa::Avx512Bf16,
            Ok("avx512") => Isa::Avx512,
            Ok("avx2") => Isa::Avx2,
            Ok("fallback") => Isa::Fallback,
            _ => return Isa::preferred(),
        };
        if wanted == Isa::Fallback || Isa::vector_sets().contains(&wanted) {
            wanted
        } else {
            Isa::preferred()
        }
    }

    /// The fastest instruction set this CPU has kernels for, whatever `SONOVEC_EMBED_ISA`
    /// says: AMX tiles where there are any, else the widest vectors, except that bf16 pairs
    /// are taken only where [`bf16_pairs_pay`].
    pub(crate) fn preferred() -> Isa {
        let sets = Isa::vector_sets();
        sets.iter()
            .copied()
            .find(|&isa| isa != Isa::Avx512Bf16 || bf16_pairs_pay())
            .unwrap_or(Isa::Fallback)
    }

    /// The vector instruction sets this CPU has kernels for, widest first (empty off x86-64 or
    /// without AVX2 and FMA).
    pub(crate) fn vector_sets() -> Vec<Isa> {
        let mut found = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if super::amx::available() {
                found.push(Isa::Amx);
            }
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
                found.push(Isa::Avx512Bf16);
            }
            if is_x86_feature_detected!("avx512f") {
                found.push(Isa::Avx512);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                found.push(Isa::Avx2);
            }
        }
        found
    }

    /// `f32` lanes of one vector register, [`Simd::LANES`] of its kernels (the fallback's GEMM
    /// path has none of its own: 1).
    pub(crate) fn lanes(self) -> usize {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Amx | Isa::Avx512 | Isa::Avx512Bf16 => <Avx512 as Simd>::LANES,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => <Avx2 as Simd>::LANES,
            _ => 1,
        }
    }

    /// `amx-bf16`, `avx512f+bf16`, `avx512f`, `avx2+fma` or `fallback`, as `sonovec bench`
    /// reports it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Amx => "amx-bf16",
            Isa::Avx512Bf16 => "avx512f+bf16",
            Isa::Avx512 => "avx512f",
            Isa::Avx2 => "avx2+fma",
            Isa::Fallback => "fallback",
        }
    }
}

/// Whether `vdpbf16ps` (16 pairs of bf16 products into 16 f32 lanes) runs as often as an f32
/// FMA on 16 lanes, so that the front end's products in bf16 pairs take half the time: on AMD
/// (Zen 4 measured: 230 against 116 GFLOP/s on one core). Not on the Intel Xeon measured
/// (family 6, model 207: 101 against 189–205 GFLOP/s, the pairs at half an FMA's rate), and not
/// assumed on any other CPU: f32 there. Decided by the CPU's vendor rather than by timing the
/// two at start-up, so that one machine always gives the same embedding.
fn bf16_pairs_pay() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // Leaf 0, the vendor string, exists on every x86-64 CPU.
        let leaf = std::arch::x86_64::__cpuid(0);
        let vendor = [leaf.ebx, leaf.edx, leaf.ecx]
            .map(u32::to_le_bytes)
            .concat();
        vendor == b"AuthenticAMD"
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// One vector register's worth of `f32` lanes. Every method is `unsafe`: callable only inside
/// a function compiled with the implementor's target features, on a CPU that has them;
/// pointers must be valid for `LANES` reads or writes (no alignment required).
pub trait Simd: Copy {
    type V: Copy;
    const LANES: usize;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a · b + c`, fused.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn reduce_max(v: Self::V) -> f32;
    unsafe fn reduce_min(v: Self::V) -> f32;
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub struct Avx512;

    impl Simd for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            _mm512_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            _mm512_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn reduce_max(v: __m512) -> f32 {
            _mm512_reduce_max_ps(v)
        }
        #[inline(always)]
        unsafe fn reduce_min(v: __m512) -> f32 {
            _mm512_reduce_min_ps(v)
        }
    }

    #[derive(Clone, Copy)]
    pub struct Avx2;

    impl Simd for Avx2 {
        type V = __m256;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            _mm256_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            _mm256_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn reduce_max(v: __m256) -> f32 {
            let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps::<1>(m, m)))
        }
        #[inline(always)]
        unsafe fn reduce_min(v: __m256) -> f32 {
            let m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
            _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps::<1>(m, m)))
        }
    }
}
