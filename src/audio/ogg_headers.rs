//! Vorbis audio packets on the Ogg page that ends the setup header, which libvorbis never decodes.
//!
//! The Vorbis I specification has the first audio packet begin a fresh page (§A.2), but some
//! encoders put it on the page that ends the setup header: 12 of the 41 wesnoth tracks.
//! libvorbis (vorbisfile, opening a file it can seek in) starts decoding at the first page after
//! the headers, so it never decodes those packets, and the packet after them is its decoder's
//! first, which gives no samples; libsndfile, which librosa reads Ogg with, does the same.
//! symphonia and ffmpeg decode them: on those tracks 128 samples more at the start (two short
//! blocks), every later sample 2.9 ms late, and musicnn's embedding off the TensorFlow
//! reference's by cosine 0.9990–0.99999. Reading from a pipe, vorbisfile cannot seek and keeps
//! them, as sonovec does there.
//!
//! The reader walks the page headers of the first logical stream from the start of the file,
//! reads at most [`MAX_HEADER_BYTES`] and [`MAX_HEADER_PAGES`] pages, and allocates nothing from
//! a length the file gives: a page it does not understand ends the walk with no packets found.

use std::io::{self, Read, Seek, SeekFrom};

/// Bytes read at most while looking for the end of the setup header (a setup header is a few
/// kilobytes; Vorbis allows more, rarely used).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Pages read at most while looking for it.
pub const MAX_HEADER_PAGES: usize = 256;

/// The Vorbis identification header's first bytes: packet type 1, then the codec's name.
const VORBIS_ID: &[u8] = b"\x01vorbis";

/// Audio packets that begin on the page where `src`'s Vorbis setup header ends, if `src` is an
/// Ogg Vorbis stream (0 otherwise, or if the headers do not parse). Leaves `src` at its start.
pub fn audio_packets_on_header_page<R: Read + Seek>(src: &mut R) -> io::Result<usize> {
    src.seek(SeekFrom::Start(0))?;
    let found = count(&mut src.by_ref().take(MAX_HEADER_BYTES));
    src.seek(SeekFrom::Start(0))?;
    match found {
        Ok(packets) => Ok(packets),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(e),
    }
}

fn count(src: &mut impl Read) -> io::Result<usize> {
    let mut serial = None;
    let mut headers_done = 0;
    let mut body = Vec::new();
    for _ in 0..MAX_HEADER_PAGES {
        let mut header = [0u8; 27];
        src.read_exact(&mut header)?;
        if &header[..4] != b"OggS" || header[4] != 0 {
            return Ok(0);
        }
        let page_serial = u32::from_le_bytes([header[14], header[15], header[16], header[17]]);
        let mut lacing = vec![0u8; usize::from(header[26])];
        src.read_exact(&mut lacing)?;
        let body_len: usize = lacing.iter().map(|&v| usize::from(v)).sum();
        body.resize(body_len, 0);
        src.read_exact(&mut body)?;
        match serial {
            None if body.starts_with(VORBIS_ID) => serial = Some(page_serial),
            None => return Ok(0),
            Some(s) if s != page_serial => continue,
            Some(_) => {}
        }
        // A packet ends at a lacing value under 255, and the next begins with the segment after
        // it; each packet that begins on this page after the third header is audio.
        let mut audio = 0;
        let mut begins_packet = header[5] & 1 == 0;
        for &value in &lacing {
            if begins_packet && headers_done == 3 {
                audio += 1;
            }
            begins_packet = value < 255;
            if begins_packet && headers_done < 3 {
                headers_done += 1;
            }
        }
        if headers_done == 3 {
            return Ok(audio);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// An Ogg page of stream 7 with these lacing values and a body of that length; the first
    /// page's body starts with the Vorbis identification header's magic.
    fn page(lacing: &[u8], first: bool) -> Vec<u8> {
        let mut page = b"OggS\0".to_vec();
        page.push(if first { 2 } else { 0 });
        page.extend_from_slice(&[0; 8]);
        page.extend_from_slice(&7u32.to_le_bytes());
        page.extend_from_slice(&[0; 8]);
        page.push(lacing.len() as u8);
        page.extend_from_slice(lacing);
        let mut body = vec![0u8; lacing.iter().map(|&v| usize::from(v)).sum()];
        if first {
            body[..VORBIS_ID.len()].copy_from_slice(VORBIS_ID);
        }
        page.extend(body);
        page
    }

    fn packets(pages: &[Vec<u8>]) -> usize {
        let mut src = Cursor::new(pages.concat());
        let found = audio_packets_on_header_page(&mut src).unwrap();
        assert_eq!(src.position(), 0, "left at its start");
        found
    }

    #[test]
    fn counts_the_audio_packets_that_begin_on_the_setup_headers_page() {
        let id = page(&[30], true);
        // Comment and setup headers (the setup 255 + 255 + 10 bytes), then nothing more.
        assert_eq!(packets(&[id.clone(), page(&[40, 255, 255, 10], false)]), 0);
        // ... then one audio packet, as in wesnoth's battle-epic.ogg.
        assert_eq!(
            packets(&[id.clone(), page(&[40, 255, 255, 10, 145], false)]),
            1
        );
        // ... then two, the second continued on the next page.
        assert_eq!(
            packets(&[id.clone(), page(&[40, 255, 10, 3, 255], false)]),
            2
        );
        // The setup header continued onto a third page, which then holds one audio packet.
        let pages = [
            id.clone(),
            page(&[40, 255], false),
            page(&[255, 1, 20], false),
        ];
        assert_eq!(packets(&pages), 1);
    }

    #[test]
    fn anything_else_has_none() {
        // Not Ogg, Ogg of another codec, a truncated page, an empty file.
        assert_eq!(packets(&[b"RIFF\0\0\0\0WAVEfmt ".to_vec()]), 0);
        let mut opus = page(&[19], true);
        opus[28..35].copy_from_slice(b"OpusHea");
        assert_eq!(packets(&[opus, page(&[40, 10, 5], false)]), 0);
        let mut truncated = page(&[40, 255, 255, 10, 145], false);
        truncated.truncate(100);
        assert_eq!(packets(&[page(&[30], true), truncated]), 0);
        assert_eq!(packets(&[]), 0);
    }
}
