//! The run of identical frames at the end of a planar stream: digital silence, or a constant DC
//! offset, on every channel.
//!
//! A stateful extractor whose state stops changing once such a run has lasted long enough (its
//! filters settled, its windows full of the same value) may defer the rest of the run instead of
//! processing it sample by sample: it keeps the run's length, and when the run ends it processes
//! only what the run's length changes (see [`super::loudness::R128Meter`]). Frames are compared by
//! their bits, so `-0.0` and `0.0` are different values and NaN payloads are told apart.

/// The values of the frames in the current run (one per channel) and how many frames it holds.
#[derive(Clone, Debug, Default)]
pub struct ConstantRun {
    values: Vec<u32>,
    frames: u64,
}

impl ConstantRun {
    /// Frames in the run, counted up to the end of the last frames passed to [`Self::extend`] or
    /// [`Self::continue_with`].
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The value of each channel in the run (empty before any frame).
    pub fn values(&self) -> impl ExactSizeIterator<Item = f32> + '_ {
        self.values.iter().map(|&v| f32::from_bits(v))
    }

    /// How many of the frames `planar[..][start..end]`, from `start` on, continue the run; adds
    /// them to it.
    pub fn continue_with(&mut self, planar: &[Vec<f32>], start: usize, end: usize) -> usize {
        if self.values.len() != planar.len() || self.frames == 0 {
            return 0;
        }
        let same = planar
            .iter()
            .zip(&self.values)
            .map(|(channel, &value)| {
                channel[start..end]
                    .iter()
                    .position(|s| s.to_bits() != value)
                    .unwrap_or(end - start)
            })
            .min()
            .unwrap_or(0);
        self.frames += same as u64;
        same
    }

    /// Adds the frames `planar[..][start..end]`: the run continues through them, or a new run
    /// starts at the last frame that differs from the one after it.
    pub fn extend(&mut self, planar: &[Vec<f32>], start: usize, end: usize) {
        let continued = self.continue_with(planar, start, end);
        if start + continued == end {
            return;
        }
        let last = end - 1;
        self.values.clear();
        self.values.extend(planar.iter().map(|c| c[last].to_bits()));
        let run = planar
            .iter()
            .zip(&self.values)
            .map(|(channel, &value)| {
                channel[start..end]
                    .iter()
                    .rev()
                    .position(|s| s.to_bits() != value)
                    .unwrap_or(end - start)
            })
            .min()
            .unwrap_or(0);
        self.frames = run as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_continue_across_pieces_and_restart_at_a_change() {
        let mut run = ConstantRun::default();
        let a = vec![vec![0.5, 0.0, 0.0, 0.0], vec![1.0, 0.0, 0.0, 0.0]];
        run.extend(&a, 0, 4);
        assert_eq!(run.frames(), 3);
        assert_eq!(run.values().collect::<Vec<_>>(), [0.0, 0.0]);
        let b = vec![vec![0.0, 0.0, 0.25], vec![0.0, 0.0, 0.0]];
        assert_eq!(run.clone().continue_with(&b, 0, 3), 2);
        run.extend(&b, 0, 3);
        assert_eq!(run.frames(), 1, "the last frame starts a new run");
        assert_eq!(run.values().collect::<Vec<_>>(), [0.25, 0.0]);
        // -0.0 is not 0.0: the filters of an extractor may tell them apart.
        let c = vec![vec![0.25, -0.0], vec![0.0, 0.0]];
        run.extend(&c, 0, 2);
        assert_eq!(run.frames(), 1);
        run.extend(&c, 1, 2);
        assert_eq!(run.frames(), 2);
    }
}
