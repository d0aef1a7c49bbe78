use super::*;

fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i32).abs_diff(b.to_bits() as i32)
}

#[test]
fn elu_is_within_two_ulp_of_expm1_over_its_whole_range() {
    let mut worst = (0, 0.0f32);
    // Every 97th f32 from −100 to 0 (about a million values), and every one near zero.
    let mut x = -100.0f32;
    while x < 0.0 {
        let e = ulps(elu(x), x.exp_m1());
        if e > worst.0 {
            worst = (e, x);
        }
        x = f32::from_bits(x.to_bits() - 97);
    }
    for bits in 1..200_000u32 {
        let x = -f32::from_bits(bits << 4);
        let e = ulps(elu(x), x.exp_m1());
        if e > worst.0 {
            worst = (e, x);
        }
    }
    assert!(worst.0 <= 2, "{} ulp at {}", worst.0, worst.1);
    assert_eq!(elu(-1000.0), -1.0);
    assert_eq!(elu(f32::NEG_INFINITY), -1.0);
}

#[test]
fn elu_passes_positive_values_and_zero_through() {
    for x in [0.0, 1e-30, 0.5, 3.0, 1e30, f32::INFINITY] {
        assert_eq!(elu(x), x);
    }
}

/// Numbers in (−2, 2) from a fixed seed.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
            "{i}: {a} against {b}"
        );
    }
}

/// Runs `f` on `kernels` on this thread; `None` where the CPU lacks them.
fn on<T>(kernels: Kernels, f: impl FnOnce() -> T) -> Option<T> {
    let available = match kernels {
        Kernels::Plain => true,
        Kernels::Avx2 => beat_avx2::is_available(),
        Kernels::Avx512 => beat_avx512::is_available(),
    };
    if !available {
        return None;
    }
    let plain = FORCE_PLAIN.replace(kernels == Kernels::Plain);
    let avx2 = FORCE_AVX2.replace(kernels == Kernels::Avx2);
    assert_eq!(super::kernels(), kernels);
    let out = f();
    FORCE_PLAIN.set(plain);
    FORCE_AVX2.set(avx2);
    Some(out)
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// A front of random weights.
fn random_front() -> Front {
    Front {
        conv1: std::array::from_fn(|dt| noise(3 * CHANNELS1, dt as u64).try_into().unwrap()),
        bias1: noise(CHANNELS1, 3).try_into().unwrap(),
        conv2: std::array::from_fn(|dt| {
            noise(3 * CHANNELS1 * CHANNELS2, 4 + dt as u64)
                .try_into()
                .unwrap()
        }),
        bias2: noise(CHANNELS2, 7).try_into().unwrap(),
        conv3: widened(&noise(BANDS3 * CHANNELS2 * CHANNELS, 8)),
        bias3: widened(&noise(CHANNELS, 9)),
    }
}

/// The front's output on `kernels` for `count` frames from `first` on, random input (the
/// edge bands zero, as the network's).
fn run_front(
    kernels: Kernels,
    front: &Front,
    first: usize,
    count: usize,
    total: Option<usize>,
) -> Option<Vec<f32>> {
    let mut pending = noise((count + 2 * CONTEXT) * PADDED, 10 + count as u64);
    for frame in pending.chunks_exact_mut(PADDED) {
        frame[0] = 0.0;
        frame[PADDED - 1] = 0.0;
    }
    on(kernels, || {
        let (mut pooled, mut out) = (Vec::new(), vec![0.0; count * CHANNELS]);
        front.run(&pending, first, count, total, &mut pooled, &mut out);
        out
    })
}

/// A residual block of random weights.
fn random_block() -> ResidualBlock {
    ResidualBlock::new(
        &std::array::from_fn(|k| noise(CHANNELS * CHANNELS, 20 + k as u64)),
        &noise(CHANNELS, 30),
        &noise(CHANNELS * CHANNELS, 31),
        &noise(CHANNELS, 32),
    )
}

/// Output frames `start..stop` of `block` on `kernels`, over 40 frames of random input.
fn run_block(
    kernels: Kernels,
    block: &ResidualBlock,
    dilation: usize,
    start: usize,
    stop: usize,
) -> Option<Vec<f32>> {
    let frames = noise(40 * CHANNELS, 33);
    let input = BlockInput {
        frames: &frames,
        first: 0,
        received: 40,
        dilation,
    };
    on(kernels, || {
        let mut out = vec![0.0; (stop - start) * CHANNELS];
        block.run(&input, start, stop, &mut out);
        out
    })
}

/// The AVX2 front against the plain loops, on random weights and input, over a run whose
/// first frame is the track's (zeros before it) and whose last frames are past its end.
#[test]
fn the_avx2_front_computes_the_plain_loops_front() {
    let front = random_front();
    let count = 13;
    let Some(avx2) = run_front(Kernels::Avx2, &front, 0, count, Some(count - 2)) else {
        return;
    };
    let plain = run_front(Kernels::Plain, &front, 0, count, Some(count - 2)).unwrap();
    assert_close(&avx2, &plain);
}

/// The AVX2 residual block against the plain loops, with taps before the track's start and
/// past its end, over a whole group of frames and a rest.
#[test]
fn the_avx2_residual_block_computes_the_plain_loops_block() {
    let block = random_block();
    let Some(avx2) = run_block(Kernels::Avx2, &block, 4, 1, 40) else {
        return;
    };
    assert_close(&avx2, &run_block(Kernels::Plain, &block, 4, 1, 40).unwrap());
}

/// The AVX-512 front gives the AVX2 front's bits: over whole groups of frames and rests of
/// each length, at the track's start and end and within it.
#[test]
fn the_avx512_front_gives_the_avx2_fronts_bits() {
    let front = random_front();
    let runs = [
        (0, 13, Some(11)),
        (0, 64, None),
        (7, 1, None),
        (7, 2, None),
        (7, 3, None),
        (7, 5, None),
        (7, 6, None),
        (7, 7, None),
        (64, 9, Some(70)),
        (128, 15, Some(130)),
    ];
    for (first, count, total) in runs {
        let Some(avx512) = run_front(Kernels::Avx512, &front, first, count, total) else {
            return;
        };
        let avx2 = run_front(Kernels::Avx2, &front, first, count, total).unwrap();
        assert_eq!(bits(&avx512), bits(&avx2), "{count} frames from {first}");
        // Not all zeros or all the same: the comparison says something.
        assert!(avx2.iter().any(|&v| v != avx2[0]));
    }
}

/// The AVX-512 residual block gives the AVX2 block's bits: taps before the track's start
/// and past its end, whole groups of frames and rests of each length.
#[test]
fn the_avx512_residual_block_gives_the_avx2_blocks_bits() {
    let block = random_block();
    let runs = [
        (1, 40),
        (0, 40),
        (0, 8),
        (3, 4),
        (5, 18),
        (2, 33),
        (9, 24),
        (31, 40),
    ];
    for dilation in [1, 4, 16] {
        for (start, stop) in runs {
            let Some(avx512) = run_block(Kernels::Avx512, &block, dilation, start, stop) else {
                return;
            };
            let avx2 = run_block(Kernels::Avx2, &block, dilation, start, stop).unwrap();
            assert_eq!(
                bits(&avx512),
                bits(&avx2),
                "frames {start}..{stop}, dilation {dilation}"
            );
        }
    }
}

/// ELU's vectorized loops give the scalar function's bits.
#[test]
fn the_vectorized_elus_give_the_same_bits() {
    let values: Vec<f32> = (0..10_007)
        .map(|i| (i as f32 * 0.37).sin() * 20.0)
        .chain([
            0.0,
            -0.0,
            -88.0,
            -87.9,
            -88.1,
            -1e-30,
            1e-30,
            -1000.0,
            f32::NEG_INFINITY,
        ])
        .collect();
    let mut scalar = values.clone();
    for v in &mut scalar {
        *v = elu(*v);
    }
    if beat_avx2::is_available() {
        let mut avx2 = values.clone();
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        unsafe { beat_avx2::elu_in_place(&mut avx2) };
        assert_eq!(bits(&scalar), bits(&avx2));
    }
    if beat_avx512::is_available() {
        let mut avx512 = values.clone();
        // SAFETY: the CPU has AVX-512F and VL, AVX2 and FMA, checked just above.
        unsafe { beat_avx512::elu_in_place(&mut avx512) };
        assert_eq!(bits(&scalar), bits(&avx512));
    }
}
