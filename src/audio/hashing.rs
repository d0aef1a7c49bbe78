//! A file source that computes the content id (BLAKE3) of the file from the bytes the decoder
//! reads, so that a track is read from disk once rather than once to hash and once to decode.
//!
//! The decoder reads the file mostly front to back, but it may seek (an MP4's `moov` at the
//! end, a probe that looks ahead) and it may stop before the end (trailing tags, padding). The
//! hash therefore covers a contiguous prefix of the file: each read that starts at or before
//! the end of that prefix extends it; reads further on are not hashed yet. [`ContentHash::finish`]
//! reads whatever the decoder left unhashed, with positioned reads that do not disturb it, so the
//! id is always the hash of the whole file, exactly as [`crate::content_id_of_file`] gives it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use symphonia::core::io::MediaSource;

/// The hash of a file's contiguous prefix, shared between the source and the analysis.
struct Prefix {
    hasher: blake3::Hasher,
    /// Bytes hashed so far, from offset 0.
    len: u64,
}

/// The content id being computed; [`ContentHash::finish`] completes it.
#[derive(Clone)]
pub struct ContentHash {
    file: Arc<File>,
    prefix: Arc<Mutex<Prefix>>,
}

/// The decoder's view of the file: reads pass through and extend the hashed prefix.
pub struct HashingSource {
    file: Arc<File>,
    prefix: Arc<Mutex<Prefix>>,
    position: u64,
    byte_len: u64,
}

/// A source for the decoder and the hash it computes on the way.
pub fn hashing_source(file: File) -> io::Result<(HashingSource, ContentHash)> {
    let byte_len = file.metadata()?.len();
    let file = Arc::new(file);
    let prefix = Arc::new(Mutex::new(Prefix {
        hasher: blake3::Hasher::new(),
        len: 0,
    }));
    let source = HashingSource {
        file: file.clone(),
        prefix: prefix.clone(),
        position: 0,
        byte_len,
    };
    Ok((source, ContentHash { file, prefix }))
}

impl HashingSource {
    /// Whether the file holds no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.byte_len == 0
    }
}

impl ContentHash {
    /// Hashes what the decoder did not read and returns the BLAKE3 hash of the whole file.
    pub fn finish(&self) -> io::Result<blake3::Hash> {
        let mut prefix = self.prefix.lock().unwrap_or_else(|p| p.into_inner());
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match self.file.read_at(&mut buf, prefix.len) {
                Ok(0) => break,
                Ok(n) => {
                    prefix.hasher.update(&buf[..n]);
                    prefix.len += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(prefix.hasher.finalize())
    }
}

impl Read for HashingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        let end = self.position + n as u64;
        let mut prefix = self.prefix.lock().unwrap_or_else(|p| p.into_inner());
        if self.position <= prefix.len && end > prefix.len {
            let new = (prefix.len - self.position) as usize;
            prefix.hasher.update(&buf[new..n]);
            prefix.len = end;
        }
        self.position = end;
        Ok(n)
    }
}

impl Seek for HashingSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.byte_len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

impl MediaSource for HashingSource {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.byte_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn any_reading_order_gives_the_hash_of_the_whole_file() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = blake3::hash(&bytes);
        let (_dir, path) = file_with(&bytes);
        // Front to back, stopping early, skipping ahead and coming back, reading the end first.
        let patterns: [&[(u64, usize)]; 4] = [
            &[(0, 300_000)],
            &[(0, 1000), (1000, 5000)],
            &[(0, 10), (200_000, 5000), (5, 100_000), (250_000, 10)],
            &[(299_000, 1000), (0, 4096), (4096, 4096)],
        ];
        for pattern in patterns {
            let (mut source, hash) = hashing_source(File::open(&path).unwrap()).unwrap();
            for &(at, len) in pattern {
                source.seek(SeekFrom::Start(at)).unwrap();
                let mut buf = vec![0u8; len];
                source.read_exact(&mut buf).unwrap();
                assert_eq!(buf, bytes[at as usize..at as usize + len]);
            }
            assert_eq!(hash.finish().unwrap(), whole, "{pattern:?}");
        }
    }

    #[test]
    fn an_empty_file_hashes_as_empty() {
        let (_dir, path) = file_with(b"");
        let (_source, hash) = hashing_source(File::open(&path).unwrap()).unwrap();
        assert_eq!(hash.finish().unwrap(), blake3::hash(b""));
    }
}
