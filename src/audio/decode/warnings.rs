//! What went wrong without stopping the decode, said once the stream has ended.

use super::AudioStream;

impl AudioStream {
    /// Problems that did not stop the decode: skipped packets, a stream that ended early or
    /// before the duration its header declares, far fewer samples than its packets declare,
    /// nothing but digital silence from packets that carry data, a format change midway.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = self.warnings.clone();
        let rate = self.info.sample_rate.max(1) as f64;
        let decoded = self.frames_decoded;
        if let Some(declared) = self.info.declared_duration_s {
            let decoded_s = decoded as f64 / rate;
            if self.finished && decoded_s < 0.99 * declared - 0.05 {
                warnings.push(format!(
                    "decoded {decoded_s:.2} s ({decoded} samples per channel) of the {declared:.2} s \
                     ({} samples) the header declares: the file may be truncated",
                    (declared * rate).round() as u64
                ));
            }
        }
        if self.finished && short_of_packets(decoded, self.packet_frames) {
            warnings.push(format!(
                "the decoder gave {decoded} samples per channel where the {} packets declare {}: \
                 audio was lost in decoding",
                self.packets, self.packet_frames
            ));
        }
        if self.finished && decoded > 0 && !self.heard {
            warnings.push(format!(
                "decoded to digital silence: {decoded} samples per channel, every one zero, from {} \
                 packets carrying {} bytes; if the file is not silent, its decoder failed",
                self.packets, self.packet_bytes
            ));
        }
        if self.bad_packets > 0 {
            warnings.push(format!(
                "{} undecodable packet(s) skipped",
                self.bad_packets
            ));
        }
        warnings
    }
}

/// Whether `decoded` falls far short of what the packets declare: more than 10 %, and more than
/// a second at 48 kHz, so encoder delay and padding never count.
fn short_of_packets(decoded: u64, declared_by_packets: u64) -> bool {
    declared_by_packets > 0
        && decoded < declared_by_packets - declared_by_packets / 10
        && declared_by_packets - decoded > 48_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_of_packets_needs_ten_percent_and_a_second() {
        // Encoder delay and padding are never "short".
        assert!(!short_of_packets(2_158_656, 2_160_000));
        assert!(!short_of_packets(0, 0));
        // A quarter of a 45 s track lost: reported.
        assert!(short_of_packets(1_620_000, 2_160_000));
        // 20 % of a half-second clip is under a second of audio: not reported.
        assert!(!short_of_packets(19_200, 24_000));
    }
}
