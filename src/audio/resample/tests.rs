//! The resampler against what soxr HQ does (measured with python-soxr 1.1 / libsoxr 0.1.3; see
//! `scripts/compare_resampler.py`): passband, transition band, stopband, length, delay, and
//! independence from how the input is cut.

use super::*;

/// Primes and rates coprime to 16 kHz across the accepted range, plus the usual rates.
const ODD_RATES: [u32; 8] = [
    1_009, 7_919, 11_003, 22_051, 44_101, 96_001, 192_007, 767_957,
];
const USUAL_RATES: [u32; 11] = [
    8_000, 11_025, 12_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 192_000,
];

fn resample_all(input: &[f32], from: u32, to: u32, piece: usize) -> Vec<f32> {
    let mut r = MonoResampler::new(from, to).unwrap();
    let mut out = Vec::new();
    for chunk in input.chunks(piece) {
        r.push(chunk, &mut out);
    }
    r.finish(&mut out);
    out
}

fn sine(rate: u32, seconds: f64, f: f64) -> Vec<f32> {
    (0..(seconds * rate as f64) as usize)
        .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin() as f32)
        .collect()
}

/// Gain in dB and phase of the output's component at `f`, fitted by least squares over the
/// middle of a 16 kHz signal (away from the start and end transients).
fn gain_db_and_phase(out: &[f32], f: f64) -> (f64, f64) {
    let (a, b) = sine_fit(out, 2000..out.len() - 2000, f);
    (20.0 * a.hypot(b).log10(), b.atan2(a))
}

/// `(a, b)` of the least-squares `a·sin(ωi) + b·cos(ωi)` over `out[range]`, at 16 kHz
/// (`ω = 2πf / 16000`).
fn sine_fit(out: &[f32], range: std::ops::Range<usize>, f: f64) -> (f64, f64) {
    let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in range {
        let (s, c) = (2.0 * std::f64::consts::PI * f * i as f64 / 16_000.0).sin_cos();
        let y = out[i] as f64;
        ss += s * s;
        sc += s * c;
        cc += c * c;
        ys += y * s;
        yc += y * c;
    }
    let det = ss * cc - sc * sc;
    ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det)
}

fn rms_db(x: &[f32]) -> f64 {
    let mean = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    10.0 * (mean * 2.0).log10()
}

#[test]
fn output_length_is_exact_and_independent_of_chunking() {
    let input: Vec<f32> = (0..44_100).map(|i| (i as f32 * 0.01).sin()).collect();
    let a = resample_all(&input, 44_100, 16_000, 1152);
    let b = resample_all(&input, 44_100, 16_000, 4097);
    let c = resample_all(&input, 44_100, 16_000, 1);
    assert_eq!(a.len(), 16_000);
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn length_is_ceil_of_n_times_ratio_at_every_rate_and_length() {
    for rate in USUAL_RATES.iter().chain(&ODD_RATES).copied() {
        for n in [0usize, 1, 2, 3, 440, 441, 4_410, 9_999, 70_001] {
            let input = vec![0.25f32; n];
            let out = resample_all(&input, rate, 16_000, 1000);
            let want = (n as u64 * 16_000).div_ceil(rate as u64) as usize;
            assert_eq!(out.len(), want, "{rate} Hz, {n} samples");
        }
    }
}

#[test]
fn odd_rates_do_not_depend_on_chunking_either() {
    for rate in [7_919u32, 44_101, 192_007] {
        let input: Vec<f32> = sine(rate, 0.5, 997.0);
        let a = resample_all(&input, rate, 16_000, 333);
        let b = resample_all(&input, rate, 16_000, 65_536);
        assert_eq!(a, b, "{rate} Hz");
    }
}

#[test]
fn a_sine_below_nyquist_keeps_its_amplitude_and_phase_at_every_rate() {
    let f = 1000.0f64;
    for rate in USUAL_RATES.iter().chain(&ODD_RATES).copied() {
        if rate < 2_100 {
            continue;
        }
        let out = resample_all(&sine(rate, 1.0, f), rate, 16_000, 1024);
        assert_eq!(out.len(), 16_000);
        // Away from the edges the output is the same sine sampled at 16 kHz, with no delay.
        for (i, &y) in out.iter().enumerate().take(15_000).skip(1000) {
            let expected = (2.0 * std::f64::consts::PI * f * i as f64 / 16_000.0).sin() as f32;
            assert!(
                (y - expected).abs() < 2e-5,
                "{rate} Hz, sample {i}: {y} vs {expected}"
            );
        }
    }
}

/// soxr HQ is flat to −0.01 dB up to 0.913 of the output Nyquist (7 304 Hz), linear phase.
#[test]
fn passband_is_flat_to_7_3_khz_with_zero_phase() {
    for rate in [44_100u32, 48_000, 96_000, 44_101] {
        for f in [50.0, 1000.0, 3000.0, 5000.0, 6500.0, 7000.0, 7300.0] {
            let out = resample_all(&sine(rate, 2.0, f), rate, 16_000, 4096);
            let (gain, phase) = gain_db_and_phase(&out, f);
            assert!(gain.abs() < 0.01, "{rate} Hz input, {f} Hz: {gain:.4} dB");
            assert!(phase.abs() < 1e-4, "{rate} Hz input, {f} Hz: phase {phase}");
        }
    }
}

/// The transition band is soxr HQ's: its gains at 44.1 → 16 kHz (python-soxr 1.1, measured
/// with the same sine fit) are −0.40 dB at 7.5 kHz, −5.8 dB at 7.652 kHz, −10.05 dB at 7.7 kHz,
/// −25.0 dB at 7.8 kHz and −52.9 dB at 7.9 kHz.
#[test]
fn transition_band_follows_soxr_hq() {
    for (f, soxr_db, tolerance) in [
        (7500.0, -0.4045, 0.03),
        (7652.0, -5.816, 0.1),
        (7700.0, -10.054, 0.2),
        (7800.0, -25.02, 0.5),
        (7900.0, -52.92, 2.0),
    ] {
        let out = resample_all(&sine(44_100, 2.0, f), 44_100, 16_000, 4096);
        let (gain, _) = gain_db_and_phase(&out, f);
        assert!(
            (gain - soxr_db).abs() < tolerance,
            "{f} Hz: {gain:.3} dB, soxr {soxr_db} dB"
        );
    }
}

/// Everything from the output Nyquist up is rejected by at least 120 dB (soxr HQ: 20 bits).
#[test]
fn stopband_from_8_khz_is_rejected_by_120_db() {
    for rate in [44_100u32, 48_000, 44_101] {
        for f in [8_050.0, 8_200.0, 8_500.0, 9_000.0, 12_000.0, 20_000.0] {
            let out = resample_all(&sine(rate, 1.0, f), rate, 16_000, 2048);
            let level = rms_db(&out[1000..15_000]);
            assert!(
                level < -120.0,
                "{rate} Hz input, {f} Hz: {level:.1} dB left"
            );
        }
    }
}

/// Upsampling (8 kHz → 16 kHz) removes the images above the input's Nyquist.
#[test]
fn upsampling_removes_images() {
    let out = resample_all(&sine(8_000, 1.0, 3_000.0), 8_000, 16_000, 500);
    let (gain, phase) = gain_db_and_phase(&out, 3_000.0);
    assert!(
        gain.abs() < 0.01 && phase.abs() < 1e-4,
        "{gain} dB, {phase}"
    );
    // The image of 3 kHz sits at 5 kHz: fit it out of what is left.
    let (image, _) = gain_db_and_phase(&out, 5_000.0);
    assert!(image < -120.0, "image at {image:.1} dB");
}

/// A click lands on the output sample at its own instant, with a symmetric response around it.
#[test]
fn an_impulse_is_not_delayed() {
    let mut input = vec![0.0f32; 44_100];
    input[22_050] = 1.0; // 0.5 s
    let out = resample_all(&input, 44_100, 16_000, 1000);
    let peak = (0..out.len())
        .max_by(|&a, &b| out[a].total_cmp(&out[b]))
        .unwrap();
    assert_eq!(peak, 8_000);
    for k in 1..100 {
        let (a, b) = (out[8_000 - k], out[8_000 + k]);
        assert!((a - b).abs() < 1e-6, "offset {k}: {a} vs {b}");
    }
}

/// Digital silence stays exactly zero once the kernel (6.3 ms either side) is past the sound,
/// as soxr gives it: the FFT path's rounding noise would give silent frames a centroid and a ZCR.
#[test]
fn digital_silence_stays_exactly_zero() {
    for rate in [44_100u32, 48_000, 96_000, 44_101, 8_000] {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut input = vec![0.0f32; 3 * rate as usize];
        for x in &mut input[rate as usize..2 * rate as usize] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *x = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5;
        }
        let out = resample_all(&input, rate, 16_000, 4096);
        let reach = if rate < 16_000 { 210 } else { 110 };
        let silent = out[..16_000 - reach].iter().chain(&out[32_000 + reach..]);
        assert!(silent.clone().all(|&y| y == 0.0), "{rate} Hz");
        assert!(out[16_000..32_000].iter().filter(|&&y| y == 0.0).count() < 10);
    }
}

/// A passage 100 dB below a loud one keeps its own waveform where it shares a transform block
/// with it: the f32 transforms' rounding noise (~1e-7 of the block's level) would sit 40–45 dB
/// below it, so such blocks must run in f64.
#[test]
fn a_quiet_passage_next_to_a_loud_one_is_not_buried_in_rounding_noise() {
    for rate in [44_100u32, 48_000, 96_000] {
        let loud = sine(rate, 0.3, 1_000.0);
        let quiet = sine(rate, 3.0, 440.0);
        let input: Vec<f32> = quiet
            .iter()
            .enumerate()
            .map(|(i, &x)| loud.get(i).copied().unwrap_or(x * 1e-5))
            .collect();
        let out = resample_all(&input, rate, 16_000, 4096);
        // 0.310–0.345 s: past the kernel's reach (6.3 ms) after the loud part, and still in the
        // transform block that holds its end at each of these rates (blocks of 6,144–12,288
        // input samples; the next block starts after 0.346 s).
        let passage = 4_960..5_520;
        let (a, b) = sine_fit(&out, passage.clone(), 440.0);
        let gain_db = 20.0 * a.hypot(b).log10();
        assert!((gain_db - -100.0).abs() < 0.01, "{rate} Hz: {gain_db} dB");
        let residual: Vec<f32> = passage
            .map(|i| {
                let (s, c) = (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 16_000.0).sin_cos();
                (out[i] as f64 - a * s - b * c) as f32
            })
            .collect();
        let below = rms_db(&residual) - -100.0;
        assert!(
            below < -60.0,
            "{rate} Hz: the residual is {below:.1} dB below the passage"
        );
    }
}

#[test]
fn rates_outside_the_supported_range_are_refused() {
    for rate in [0u32, 1, 999, 768_001, u32::MAX] {
        let err = MonoResampler::new(rate, 16_000).err().expect("refused");
        assert!(err.to_string().contains("1000 to 768000 Hz"), "{err}");
    }
    assert!(MonoResampler::new(16_000, 16_000).is_ok());
}
