//! Spooling an upload to a temporary file while hashing it, so no upload is held in memory.
//!
//! The file's name is made here (a random name with a sanitised extension): nothing from the
//! request ever becomes a path.

use std::io;
use std::path::Path;

use tempfile::TempPath;
use tokio::io::{AsyncWriteExt, BufWriter};

/// Why an upload could not be spooled.
#[derive(Debug)]
pub enum SpoolError {
    /// More bytes than the limit arrived (the rest is not read).
    TooLarge,
    /// Reading from the client failed (it hung up, sent a broken chunk …).
    Client(String),
    /// The spool file could not be written: the server's fault.
    Io(io::Error),
}

/// An upload being written to a temporary file.
pub struct Spool {
    path: TempPath,
    file: BufWriter<tokio::fs::File>,
    hasher: blake3::Hasher,
    len: u64,
    limit: u64,
}

/// A finished upload: its file, content id and size in bytes.
pub struct Spooled {
    pub path: TempPath,
    pub id: String,
    pub len: u64,
}

impl Spool {
    /// A new empty spool file in `dir`, named `sonovec-upload-XXXX.<ext>` (the extension helps
    /// the decoder's format probe).
    pub fn create(dir: &Path, ext: Option<&str>, limit: u64) -> Result<Spool, SpoolError> {
        let suffix = ext.map(|e| format!(".{e}")).unwrap_or_default();
        let named = tempfile::Builder::new()
            .prefix("sonovec-upload-")
            .suffix(&suffix)
            .tempfile_in(dir)
            .map_err(SpoolError::Io)?;
        let (file, path) = named.into_parts();
        Ok(Spool {
            path,
            file: BufWriter::with_capacity(1 << 16, tokio::fs::File::from_std(file)),
            hasher: blake3::Hasher::new(),
            len: 0,
            limit,
        })
    }

    /// Appends a chunk, failing as soon as the total passes the limit.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        self.len += chunk.len() as u64;
        if self.len > self.limit {
            return Err(SpoolError::TooLarge);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await.map_err(SpoolError::Io)
    }

    /// Flushes the file and returns it with its content id (the same id `extract` gives the
    /// same bytes on disk).
    pub async fn finish(mut self) -> Result<Spooled, SpoolError> {
        self.file.flush().await.map_err(SpoolError::Io)?;
        let mut file = self.file.into_inner();
        file.shutdown().await.map_err(SpoolError::Io)?;
        Ok(Spooled {
            path: self.path,
            id: self.hasher.finalize().to_hex()[..32].to_string(),
            len: self.len,
        })
    }
}

/// An extension for the spool file from the client's file name or content type: lower-case ASCII
/// letters and digits only, at most 5 characters; anything else gives none.
pub fn extension_hint(file_name: Option<&str>, content_type: Option<&str>) -> Option<String> {
    let from_name = file_name
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let from_type = content_type.and_then(|t| {
        let essence = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let ext = match essence.as_str() {
            "audio/mpeg" | "audio/mp3" => "mp3",
            "audio/flac" | "audio/x-flac" => "flac",
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
            "audio/aiff" | "audio/x-aiff" => "aiff",
            "audio/ogg" | "application/ogg" => "ogg",
            "audio/opus" => "opus",
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => "m4a",
            "audio/webm" | "video/webm" => "webm",
            "audio/x-matroska" | "video/x-matroska" => "mkv",
            "audio/x-caf" => "caf",
            _ => return None,
        };
        Some(ext.to_string())
    });
    from_name
        .or(from_type)
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// True for the content types a raw upload may carry: `audio/*`, `application/octet-stream`,
/// `application/ogg` and the audio-capable video containers.
pub fn is_audio_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("audio/")
        || matches!(
            essence.as_str(),
            "application/octet-stream"
                | "application/ogg"
                | "video/webm"
                | "video/mp4"
                | "video/x-matroska"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_never_carry_path_characters() {
        assert_eq!(
            extension_hint(Some("a.FLAC"), None).as_deref(),
            Some("flac")
        );
        assert_eq!(extension_hint(Some("../../etc/passwd"), None), None);
        assert_eq!(
            extension_hint(None, Some("audio/mpeg")).as_deref(),
            Some("mp3")
        );
    }

    #[test]
    fn content_types() {
        assert!(is_audio_content_type("audio/flac"));
        assert!(is_audio_content_type("application/octet-stream; x=y"));
        assert!(!is_audio_content_type("application/x-www-form-urlencoded"));
    }
}
