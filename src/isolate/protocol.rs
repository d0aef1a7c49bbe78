//! The framed protocol between a parent and its worker process, over the worker's stdin and
//! stdout: each message is a 4-byte little-endian length then that many bytes of JSON.
//!
//! The parent sends a [`Request`], the worker answers one [`Reply`], in turn; a worker never
//! writes anything else to its stdout. A frame longer than [`MAX_FRAME_BYTES`] is refused, so a
//! confused peer cannot make the other side allocate from a bogus length.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::record::Record;

/// Largest frame either side accepts: a record is a few tens of KB (more with beat times).
pub const MAX_FRAME_BYTES: u32 = 64 << 20;

/// One track to analyse.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The file, opened by the worker itself (uploads are spooled to a file first).
    pub path: PathBuf,
    /// Its content id, computed by the parent; `None`: the worker hashes the bytes it decodes
    /// (the record carries the id).
    pub id: Option<String>,
    /// CPU seconds this analysis may use; over it, the kernel stops the worker (`RLIMIT_CPU`).
    pub cpu_budget_s: Option<f64>,
    /// Whether the parent has a core to spare for a second decoding thread: fewer analyses at
    /// once than its threads. `None` (an older parent): the worker judges alone.
    #[serde(default)]
    pub core_to_spare: Option<bool>,
}

/// The analysis of one [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub record: Record,
    /// Wall seconds the analysis took in the worker.
    pub total_s: f64,
}

/// Writes `message` as one frame and flushes.
pub fn write_frame<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "frame too large"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` when the peer closed the stream before a new frame began.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len as usize];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bogus_lengths_are_refused() {
        let mut buf = Vec::new();
        let request = Request {
            path: "/tmp/a.flac".into(),
            id: Some("abc".into()),
            cpu_budget_s: Some(1.5),
            core_to_spare: Some(true),
        };
        write_frame(&mut buf, &request).unwrap();
        let back: Request = read_frame(&mut buf.as_slice()).unwrap().unwrap();
        assert_eq!(back.path, request.path);
        assert_eq!(back.id.as_deref(), Some("abc"));
        assert_eq!(back.cpu_budget_s, Some(1.5));
        assert!(read_frame::<Request>(&mut &[][..]).unwrap().is_none());
        let bogus = u32::MAX.to_le_bytes();
        assert!(read_frame::<Request>(&mut &bogus[..]).is_err());
    }
}
