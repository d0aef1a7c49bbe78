//! The edit list of an MP4 audio track: which of its decoded samples are the audio.
//!
//! AAC encoders prime the decoder with (usually) 1024 samples before the first real one and pad
//! the last frame; an MP4 muxer records this in the track's edit list (`moov/trak/edts/elst`):
//! the edit starts `media_time` samples into the media and lasts `segment_duration` (in the
//! movie's timescale). ffmpeg, Apple's decoders and every gapless player honour it; symphonia's
//! MP4 reader 0.6 does not ("TODO: Support edits"), so without this every AAC file decodes 1024
//! samples late and a little long.
//!
//! The parser reads only box headers and the four small boxes it needs (`mvhd`, `tkhd`, `mdhd`,
//! `hdlr`, `elst`), seeking past everything else. A header can lie: every box must fit inside its
//! parent and the file, at most [`MAX_BOXES`] boxes are visited, nothing is allocated from a size
//! or count the file gives, and an edit list this does not understand (several non-empty edits, a
//! rate other than 1, a start past the end of the media, a zero timescale) is ignored, not
//! guessed at.

use std::io::{self, Read, Seek, SeekFrom};

/// Boxes visited in one file at most, top level and nested together.
pub const MAX_BOXES: usize = 4096;

/// Edit list entries looked at; an audio track has one, two with a leading empty edit.
const MAX_EDITS: u32 = 8;

/// The one edit of an audio track, in its own units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackEdit {
    /// `tkhd` track ID (symphonia's track id for MP4).
    pub track_id: u32,
    /// Start of the edit in the media, in `media_timescale` units.
    pub media_time: u64,
    pub media_timescale: u32,
    /// Length of the edit in `movie_timescale` units; 0 means "to the end".
    pub segment_duration: u64,
    pub movie_timescale: u32,
}

impl TrackEdit {
    /// Frames to skip at the start and, if the edit says, frames to keep after them, at the
    /// decoded sample rate.
    pub fn frames(&self, sample_rate: u32) -> (u64, Option<u64>) {
        let rescale = |value: u64, from: u32| {
            let scaled = (value as u128 * sample_rate as u128 + from as u128 / 2) / from as u128;
            u64::try_from(scaled).unwrap_or(u64::MAX)
        };
        let skip = rescale(self.media_time, self.media_timescale);
        let keep = (self.segment_duration > 0)
            .then(|| rescale(self.segment_duration, self.movie_timescale));
        (skip, keep)
    }
}

/// The edits of the audio tracks of an MP4 file, if `src` is one (its first box is `ftyp`).
/// Leaves `src` at its start. Boxes that do not parse end the search with what was found.
pub fn audio_edits<R: Read + Seek>(src: &mut R) -> io::Result<Vec<TrackEdit>> {
    let len = src.seek(SeekFrom::End(0))?;
    src.seek(SeekFrom::Start(0))?;
    let mut walker = Walker { src, visited: 0 };
    let mut edits = Vec::new();
    let result = walker.top_level(len, &mut edits);
    walker.src.seek(SeekFrom::Start(0))?;
    match result {
        Ok(()) => Ok(edits),
        // Malformed or truncated headers: symphonia will say what is wrong with the file.
        Err(e)
            if e.kind() == io::ErrorKind::InvalidData
                || e.kind() == io::ErrorKind::UnexpectedEof =>
        {
            Ok(edits)
        }
        Err(e) => Err(e),
    }
}

struct Walker<'a, R> {
    src: &'a mut R,
    visited: usize,
}

/// A box: its type and the byte range of its payload.
struct BoxHeader {
    kind: [u8; 4],
    body: u64,
    end: u64,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// What one `trak` says.
#[derive(Default)]
struct Trak {
    id: Option<u32>,
    sound: bool,
    media_timescale: u32,
    media_duration: u64,
    /// (segment duration, media time) of the one non-empty edit; `None` if there is none or
    /// the list is not one this understands.
    edit: Option<(u64, i64)>,
}

impl<R: Read + Seek> Walker<'_, R> {
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0; 4];
        self.src.read_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0; 8];
        self.src.read_exact(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    fn skip(&mut self, n: i64) -> io::Result<()> {
        self.src.seek(SeekFrom::Current(n)).map(|_| ())
    }

    /// The header of the box at `at`, which must end by `parent_end`.
    fn header(&mut self, at: u64, parent_end: u64) -> io::Result<BoxHeader> {
        self.visited += 1;
        if self.visited > MAX_BOXES {
            return Err(invalid("too many boxes"));
        }
        self.src.seek(SeekFrom::Start(at))?;
        let size = self.u32()?;
        let mut kind = [0; 4];
        self.src.read_exact(&mut kind)?;
        let (size, header_len) = match size {
            0 => (parent_end - at, 8),
            1 => (self.u64()?, 16),
            n => (u64::from(n), 8),
        };
        if size < header_len || size > parent_end - at {
            return Err(invalid("a box does not fit in its parent"));
        }
        Ok(BoxHeader {
            kind,
            body: at + header_len,
            end: at + size,
        })
    }

    /// The version byte of a full box (its flags skipped), after checking that the box holds
    /// the `v0` or `v1` bytes its version needs.
    fn version(&mut self, b: &BoxHeader, v0: u64, v1: u64) -> io::Result<u8> {
        let version = (self.u32()? >> 24) as u8;
        let need = if version == 1 { v1 } else { v0 };
        if b.end - b.body < need {
            return Err(invalid("a box is too short for its fields"));
        }
        Ok(version)
    }

    fn top_level(&mut self, len: u64, edits: &mut Vec<TrackEdit>) -> io::Result<()> {
        let mut at = 0;
        while at + 8 <= len {
            let b = self.header(at, len)?;
            if at == 0 && &b.kind != b"ftyp" {
                return Ok(());
            }
            if &b.kind == b"moov" {
                return self.moov(&b, edits);
            }
            at = b.end;
        }
        Ok(())
    }

    fn moov(&mut self, moov: &BoxHeader, edits: &mut Vec<TrackEdit>) -> io::Result<()> {
        let mut movie_timescale = 0;
        let mut traks = Vec::new();
        let mut at = moov.body;
        while at + 8 <= moov.end {
            let b = self.header(at, moov.end)?;
            match &b.kind {
                b"mvhd" => {
                    let skip = if self.version(&b, 16, 24)? == 1 {
                        16
                    } else {
                        8
                    };
                    self.skip(skip)?;
                    movie_timescale = self.u32()?;
                }
                // Only the tracks' facts are kept, a few bytes each, and only as many as
                // MAX_BOXES allows boxes.
                b"trak" => traks.push(self.trak(&b)?),
                _ => {}
            }
            at = b.end;
        }
        for t in traks {
            let (Some(track_id), true, Some((segment_duration, media_time))) =
                (t.id, t.sound, t.edit)
            else {
                continue;
            };
            let media_time = media_time as u64;
            if movie_timescale == 0 || t.media_timescale == 0 || media_time > t.media_duration {
                continue;
            }
            edits.push(TrackEdit {
                track_id,
                media_time,
                media_timescale: t.media_timescale,
                segment_duration,
                movie_timescale,
            });
        }
        Ok(())
    }

    fn trak(&mut self, trak: &BoxHeader) -> io::Result<Trak> {
        let mut t = Trak::default();
        let mut at = trak.body;
        while at + 8 <= trak.end {
            let b = self.header(at, trak.end)?;
            match &b.kind {
                b"tkhd" => {
                    let skip = if self.version(&b, 16, 24)? == 1 {
                        16
                    } else {
                        8
                    };
                    self.skip(skip)?;
                    t.id = Some(self.u32()?);
                }
                b"mdia" => self.mdia(&b, &mut t)?,
                b"edts" => {
                    let mut inner = b.body;
                    while inner + 8 <= b.end {
                        let e = self.header(inner, b.end)?;
                        if &e.kind == b"elst" {
                            t.edit = self.elst(&e)?;
                        }
                        inner = e.end;
                    }
                }
                _ => {}
            }
            at = b.end;
        }
        Ok(t)
    }

    fn mdia(&mut self, mdia: &BoxHeader, t: &mut Trak) -> io::Result<()> {
        let mut at = mdia.body;
        while at + 8 <= mdia.end {
            let b = self.header(at, mdia.end)?;
            match &b.kind {
                b"mdhd" => {
                    if self.version(&b, 20, 32)? == 1 {
                        self.skip(16)?;
                        t.media_timescale = self.u32()?;
                        t.media_duration = self.u64()?;
                    } else {
                        self.skip(8)?;
                        t.media_timescale = self.u32()?;
                        t.media_duration = u64::from(self.u32()?);
                    }
                }
                b"hdlr" => {
                    self.version(&b, 12, 12)?;
                    self.skip(4)?;
                    let mut handler = [0; 4];
                    self.src.read_exact(&mut handler)?;
                    t.sound = &handler == b"soun";
                }
                _ => {}
            }
            at = b.end;
        }
        Ok(())
    }

    /// The single non-empty edit at normal rate, after any empty edits (media time -1).
    fn elst(&mut self, elst: &BoxHeader) -> io::Result<Option<(u64, i64)>> {
        let version = self.version(elst, 8, 8)?;
        let count = self.u32()?;
        let entry_len: u64 = if version == 1 { 20 } else { 12 };
        if count > MAX_EDITS || u64::from(count) * entry_len > elst.end - elst.body - 8 {
            return Ok(None);
        }
        let mut found = None;
        for _ in 0..count {
            let (duration, media_time) = if version == 1 {
                (self.u64()?, self.u64()? as i64)
            } else {
                (u64::from(self.u32()?), i64::from(self.u32()? as i32))
            };
            let rate = self.u32()?;
            if media_time == -1 {
                continue;
            }
            if found.is_some() || media_time < 0 || rate != 0x0001_0000 {
                return Ok(None);
            }
            found = Some((duration, media_time));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn full(version_flags: u32, rest: &[u32]) -> Vec<u8> {
        std::iter::once(version_flags)
            .chain(rest.iter().copied())
            .flat_map(u32::to_be_bytes)
            .collect()
    }

    /// What ffmpeg writes for 45 s of AAC at 44.1 kHz: 1024 samples of priming.
    fn ffmpeg_like(elst: &[u8]) -> Vec<u8> {
        let mvhd = boxed(b"mvhd", &full(0, &[0, 0, 1000, 45_000]));
        let tkhd = boxed(b"tkhd", &full(3, &[0, 0, 1, 0, 45_000]));
        let mdhd = boxed(b"mdhd", &full(0, &[0, 0, 44_100, 1_985_524]));
        let hdlr = boxed(b"hdlr", &[&full(0, &[0])[..], b"soun", &[0; 12]].concat());
        let mdia = boxed(b"mdia", &[mdhd, hdlr].concat());
        let edts = boxed(b"edts", &boxed(b"elst", elst));
        let trak = boxed(b"trak", &[tkhd, edts, mdia].concat());
        let moov = boxed(b"moov", &[mvhd, trak].concat());
        let ftyp = boxed(b"ftyp", b"M4A \0\0\0\0");
        [ftyp, boxed(b"mdat", &[0; 64]), moov].concat()
    }

    #[test]
    fn reads_ffmpeg_priming_and_length() {
        let file = ffmpeg_like(&full(0, &[1, 45_000, 1024, 0x0001_0000]));
        let mut src = Cursor::new(file);
        let edits = audio_edits(&mut src).unwrap();
        assert_eq!(src.position(), 0);
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].track_id, 1);
        assert_eq!(edits[0].frames(44_100), (1024, Some(1_984_500)));
        // HE-AAC style: the edit is in the media timescale, the decode at twice the rate.
        assert_eq!(edits[0].frames(88_200), (2048, Some(3_969_000)));
    }

    #[test]
    fn ignores_what_it_does_not_understand() {
        // Two non-empty edits, a rate of 2, a start past the media, a huge count.
        for elst in [
            full(0, &[2, 100, 0, 0x0001_0000, 100, 500, 0x0001_0000]),
            full(0, &[1, 45_000, 1024, 0x0002_0000]),
            full(0, &[1, 45_000, 2_000_000, 0x0001_0000]),
            full(0, &[u32::MAX, 45_000, 1024, 0x0001_0000]),
        ] {
            let edits = audio_edits(&mut Cursor::new(ffmpeg_like(&elst))).unwrap();
            assert!(edits.is_empty(), "{elst:?}");
        }
        // A leading empty edit is passed over.
        let elst = full(
            0,
            &[2, 500, u32::MAX, 0x0001_0000, 45_000, 1024, 0x0001_0000],
        );
        let edits = audio_edits(&mut Cursor::new(ffmpeg_like(&elst))).unwrap();
        assert_eq!(edits[0].media_time, 1024);
    }

    #[test]
    fn lying_sizes_end_the_search_quietly() {
        let mut file = ffmpeg_like(&full(0, &[1, 45_000, 1024, 0x0001_0000]));
        // The moov claims 4 GiB.
        let moov = file.windows(4).position(|w| w == b"moov").unwrap() - 4;
        file[moov..moov + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut src = Cursor::new(file);
        assert!(audio_edits(&mut src).unwrap().is_empty());
        assert_eq!(src.position(), 0);
        // Not an MP4 at all, or empty.
        assert!(audio_edits(&mut Cursor::new(b"OggS\0\0\0\0\0\0".to_vec()))
            .unwrap()
            .is_empty());
        assert!(audio_edits(&mut Cursor::new(Vec::new()))
            .unwrap()
            .is_empty());
    }
}
