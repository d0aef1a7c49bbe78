//! The content id of an input: the first 128 bits of the BLAKE3 hash of its bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The content id of `bytes`: the first 128 bits of their BLAKE3 hash, as 32 hex digits.
pub fn content_id(bytes: &[u8]) -> String {
    hex_id(blake3::hash(bytes))
}

/// The content id of the file at `path`, read in a stream.
pub fn content_id_of_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = open_regular_file(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex_id(hasher.finalize()))
}

pub(super) fn hex_id(hash: blake3::Hash) -> String {
    hash.to_hex()[..32].to_string()
}

/// Opens `path` only if it is a regular file: a FIFO would block and a directory cannot be read.
pub(super) fn open_regular_file(path: &Path) -> io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    File::open(path)
}
