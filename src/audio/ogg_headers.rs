//! Vorbis audio packets on the Ogg page that ends the setup header, which libvorbis never decodes.
//!
//! The Vorbis I specification has the first audio packet begin a fresh page (§A.2), but some
//! encoders put it on the page that ends the setup header: 12 of the 41 wesnoth tracks.
//! libvorbis (vorbisfile, opening a file it can seek in) starts decoding at the first page after
//! the headers, so it never decodes those packets, and the packet after them is its decoder's
//! first, which gives no samples; libsndfile, which librosa reads Ogg with, does the same.
//! symphonia and ffmpeg decode them: on those tracks 128 samples more at the start (two short
//! blocks), every later sample 2.9 ms late, and musicnn's embedding off the TensorFlow
//! reference's by cosine 0.99899–0.99993 on 6 of the first 20 tracks. Reading from a pipe,
//! vorbisfile cannot seek and keeps them, as sonovec does there.
//!
//! The pages are read from the file's first bytes that [`super::declared_rate::head`] already
//! read (64 KiB; setup headers are a few kilobytes). A page that does not parse or does not end
//! within them ends the walk with no packets found: the file is then decoded as symphonia
//! decodes it.

/// The Vorbis identification header's first bytes: packet type 1, then the codec's name.
const VORBIS_ID: &[u8] = b"\x01vorbis";

/// Audio packets that begin on the page where the Vorbis setup header of the Ogg stream starting
/// with `head` ends; 0 if `head` is not the start of an Ogg Vorbis stream or its header pages do
/// not end within it.
pub fn audio_packets_on_header_page(head: &[u8]) -> usize {
    let mut serial = None;
    let mut headers_done = 0;
    let mut rest = head;
    while let Some(page) = Page::parse(rest) {
        rest = &rest[page.len..];
        match serial {
            None if page.body.starts_with(VORBIS_ID) => serial = Some(page.serial),
            None => return 0,
            Some(s) if s != page.serial => continue,
            Some(_) => {}
        }
        // A packet ends at a lacing value under 255, and the next begins with the segment after
        // it; each packet that begins on this page after the third header is audio.
        let mut audio = 0;
        let mut begins_packet = !page.continued;
        for &value in page.lacing {
            if begins_packet && headers_done == 3 {
                audio += 1;
            }
            begins_packet = value < 255;
            if begins_packet && headers_done < 3 {
                headers_done += 1;
            }
        }
        if headers_done == 3 {
            return audio;
        }
    }
    0
}

/// One Ogg page at the start of a byte slice.
struct Page<'a> {
    serial: u32,
    /// Whether its first segment continues a packet of the previous page.
    continued: bool,
    lacing: &'a [u8],
    body: &'a [u8],
    /// Bytes of the page, header included.
    len: usize,
}

impl<'a> Page<'a> {
    /// The page `bytes` start with, if they hold a whole version-0 page.
    fn parse(bytes: &'a [u8]) -> Option<Page<'a>> {
        let header = bytes.get(..27)?;
        if &header[..4] != b"OggS" || header[4] != 0 {
            return None;
        }
        let lacing = bytes.get(27..27 + usize::from(header[26]))?;
        let body_start = 27 + lacing.len();
        let body_len: usize = lacing.iter().map(|&v| usize::from(v)).sum();
        let body = bytes.get(body_start..body_start + body_len)?;
        Some(Page {
            serial: u32::from_le_bytes(header[14..18].try_into().ok()?),
            continued: header[5] & 1 != 0,
            lacing,
            body,
            len: body_start + body_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        audio_packets_on_header_page(&pages.concat())
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
        // Three packets and a fourth on the second page: audio, were it Vorbis.
        assert_eq!(packets(&[opus, page(&[40, 10, 5, 7], false)]), 0);
        let mut truncated = page(&[40, 255, 255, 10, 145], false);
        truncated.truncate(100);
        assert_eq!(packets(&[page(&[30], true), truncated]), 0);
        assert_eq!(packets(&[]), 0);
    }
}
