//! End-of-stream trimming the way the reference decoders do it.
//!
//! A demuxer marks padding to drop from the end of a packet (`trim_end`) when the packet runs past
//! the position its container declares. That is right at the end of a stream (encoder padding,
//! MP3 gapless, Ogg's last granule), but symphonia's Ogg reader also does it in mid-stream when a
//! page's granule position is smaller than the packets before it add up to, which is common in
//! Ogg files cut or muxed by ffmpeg (`ffmpeg -ss … -t … -c:a libvorbis`). libvorbis and libopus
//! only trim at the end of the stream and resynchronise on the granule otherwise; honouring the
//! mid-stream trims loses hundreds of samples each time and shifts everything after them.
//!
//! So a packet's end trim is applied only if nothing but more trimmed packets follows it before
//! the stream ends. libvorbis goes further: at the end of the stream it trims the last packet
//! only, and never more than that packet decoded ([`EndTrim::last_packet_only`]); where an Ogg
//! muxer's granules disagree with the packets, the padding the reader computes can span several
//! packets, and trimming all of it would cut hundreds of samples libvorbis keeps. Packets with a trim are held back until that is known; a packet without one
//! releases them untrimmed. Holding is bounded: past [`MAX_HELD_FRAMES`] the trims are taken as
//! the demuxer gave them, so a stream that marks every packet cannot grow memory.

/// Most frames held back waiting to learn whether their end trims are real: eight of the
/// largest Vorbis blocks, several times any real encoder padding.
pub const MAX_HELD_FRAMES: usize = 8 * 8192;

/// Planar frames of packets whose end trim is not yet known to be real.
#[derive(Default)]
pub struct EndTrim {
    held: Vec<Vec<f32>>,
    /// Per held packet: its frame count and the frames its demuxer asked to trim from its end.
    packets: Vec<(usize, usize)>,
    /// End trims that more audio followed, and so were not applied, in frames.
    ignored_frames: u64,
    last_only: bool,
}

impl EndTrim {
    /// At the end of the stream, apply only the last packet's trim (libvorbis's rule).
    pub fn last_packet_only() -> EndTrim {
        EndTrim {
            last_only: true,
            ..EndTrim::default()
        }
    }

    /// Frames held back now.
    pub fn held_frames(&self) -> usize {
        self.packets.iter().map(|&(n, _)| n).sum()
    }

    /// Mid-stream end trims that were not applied, in frames so far.
    pub fn ignored_frames(&self) -> u64 {
        self.ignored_frames
    }

    /// Takes one decoded packet (`planar`, untrimmed) and its demuxer's end trim. Moves into
    /// `out` (cleared first) the frames that can be passed on now and returns how many; 0 means
    /// the packet was held back. `planar` may be left holding any buffers (the caller refills
    /// it): a packet passed on whole is swapped into `out`, not copied.
    pub fn push(
        &mut self,
        planar: &mut Vec<Vec<f32>>,
        trim_end: usize,
        out: &mut Vec<Vec<f32>>,
    ) -> usize {
        let frames = planar.first().map_or(0, Vec::len);
        if self.held.len() != planar.len() {
            // A new channel count: nothing held can belong with this packet.
            self.release(true, out);
            let released = out.first().map_or(0, Vec::len);
            if released > 0 {
                // Keep the new packet for the next call rather than mixing channel counts.
                self.held = planar.to_vec();
                self.packets.push((frames, trim_end));
                return released;
            }
            self.held = vec![Vec::new(); planar.len()];
        }
        if trim_end == 0 && self.packets.is_empty() {
            // Nearly every packet: nothing held, nothing to decide, so no copy either.
            std::mem::swap(planar, out);
            return frames;
        }
        for (held, channel) in self.held.iter_mut().zip(planar) {
            held.extend_from_slice(channel);
        }
        self.packets.push((frames, trim_end.min(frames)));
        if trim_end > 0 && self.held_frames() <= MAX_HELD_FRAMES {
            return 0;
        }
        // A packet with no trim follows: every trim held so far was mid-stream. Or too much is
        // held: apply the trims as given.
        let apply = trim_end > 0;
        self.release(apply, out);
        out.first().map_or(0, Vec::len)
    }

    /// At the end of the stream: the held trims were real. Moves what remains into `out`.
    pub fn finish(&mut self, out: &mut Vec<Vec<f32>>) -> usize {
        if self.last_only {
            let last = self.packets.len().saturating_sub(1);
            for (_, trim) in &mut self.packets[..last] {
                self.ignored_frames += *trim as u64;
                *trim = 0;
            }
        }
        self.release(true, out);
        out.first().map_or(0, Vec::len)
    }

    fn release(&mut self, apply_trims: bool, out: &mut Vec<Vec<f32>>) {
        out.resize_with(self.held.len(), Vec::new);
        out.truncate(self.held.len());
        for (dst, src) in out.iter_mut().zip(&self.held) {
            dst.clear();
            let mut start = 0;
            for &(frames, trim) in &self.packets {
                let keep = if apply_trims { frames - trim } else { frames };
                dst.extend_from_slice(&src[start..start + keep]);
                start += frames;
            }
        }
        if !apply_trims {
            self.ignored_frames += self.packets.iter().map(|&(_, t)| t as u64).sum::<u64>();
        }
        self.held.iter_mut().for_each(Vec::clear);
        self.packets.clear();
    }
}

/// The part of a decoded stream its container says is audio: `skip` frames dropped at the
/// start (encoder priming), at most `keep` frames after them (the rest is padding). This is an
/// MP4 edit list's meaning, as ffmpeg applies it.
#[derive(Clone, Copy, Debug, Default)]
pub struct EditWindow {
    /// Frames still to drop.
    skip: u64,
    /// Frames still to pass on, if limited.
    keep: Option<u64>,
}

impl EditWindow {
    pub fn new(skip: u64, keep: Option<u64>) -> EditWindow {
        EditWindow { skip, keep }
    }

    /// Whether no frame can pass any more.
    pub fn is_full(&self) -> bool {
        self.keep == Some(0)
    }

    /// Cuts `planar` (one `Vec` per channel, equal lengths) to the window and returns the
    /// frames left in it.
    pub fn apply(&mut self, planar: &mut [Vec<f32>]) -> usize {
        let frames = planar.first().map_or(0, Vec::len);
        let drop = self.skip.min(frames as u64) as usize;
        self.skip -= drop as u64;
        let mut left = frames - drop;
        if let Some(keep) = &mut self.keep {
            left = left.min(usize::try_from(*keep).unwrap_or(usize::MAX));
            *keep -= left as u64;
        }
        if drop > 0 || left < frames - drop {
            for channel in planar.iter_mut() {
                channel.drain(..drop);
                channel.truncate(left);
            }
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(value: f32, frames: usize) -> Vec<Vec<f32>> {
        vec![vec![value; frames]]
    }

    #[test]
    fn mid_stream_trims_are_ignored_and_final_ones_applied() {
        let mut trim = EndTrim::default();
        let mut out = Vec::new();
        assert_eq!(trim.push(&mut packet(1.0, 100), 0, &mut out), 100);
        // Trimmed in mid-stream: held, then released whole when an untrimmed packet follows.
        assert_eq!(trim.push(&mut packet(2.0, 100), 40, &mut out), 0);
        assert_eq!(trim.push(&mut packet(3.0, 100), 0, &mut out), 200);
        assert_eq!(&out[0][..100], &[2.0; 100][..]);
        assert_eq!(trim.ignored_frames(), 40);
        // Padding spread over the last two packets: both trims apply at the end.
        assert_eq!(trim.push(&mut packet(4.0, 100), 30, &mut out), 0);
        assert_eq!(trim.push(&mut packet(5.0, 100), 100, &mut out), 0);
        assert_eq!(trim.finish(&mut out), 70);
        assert!(out[0].iter().all(|&s| s == 4.0));
    }

    #[test]
    fn libvorbis_trims_only_the_last_packet() {
        let mut trim = EndTrim::last_packet_only();
        let mut out = Vec::new();
        assert_eq!(trim.push(&mut packet(1.0, 576), 204, &mut out), 0);
        assert_eq!(trim.push(&mut packet(2.0, 128), 128, &mut out), 0);
        assert_eq!(trim.push(&mut packet(3.0, 128), 128, &mut out), 0);
        assert_eq!(trim.finish(&mut out), 576 + 128);
        assert_eq!(trim.ignored_frames(), 204 + 128);
    }

    #[test]
    fn edit_window_drops_priming_and_padding_across_packets() {
        let mut window = EditWindow::new(1500, Some(2000));
        let mut p = vec![(0..1024).map(|i| i as f32).collect::<Vec<f32>>(); 2];
        assert_eq!(window.apply(&mut p), 0);
        let mut p = vec![(1024..2048).map(|i| i as f32).collect::<Vec<f32>>(); 2];
        assert_eq!(window.apply(&mut p), 548);
        assert_eq!(p[1][0], 1500.0);
        let mut p = vec![vec![0.0; 1024]; 2];
        assert_eq!(window.apply(&mut p), 1024);
        let mut p = vec![vec![0.0; 1024]; 2];
        assert_eq!(window.apply(&mut p), 2000 - 548 - 1024);
        assert_eq!(p[0].len(), 428);
        assert!(window.is_full());
        assert_eq!(window.apply(&mut vec![vec![0.0; 1024]; 2]), 0);
        // No edit: everything passes.
        let mut open = EditWindow::default();
        assert_eq!(open.apply(&mut [vec![0.0; 1024]]), 1024);
    }

    #[test]
    fn holding_is_bounded() {
        let mut trim = EndTrim::default();
        let mut out = Vec::new();
        let mut released = 0;
        for _ in 0..100 {
            released += trim.push(&mut packet(1.0, 1024), 24, &mut out);
            assert!(trim.held_frames() <= MAX_HELD_FRAMES + 1024);
        }
        assert!(released > 0);
    }
}
